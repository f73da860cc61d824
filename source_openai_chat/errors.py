"""Error messages as a user should read them, where the CDK's own wording misleads."""

from __future__ import annotations

from airbyte_cdk.models import AirbyteErrorTraceMessage
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.answers import CONNECTION_FAILURE
from source_openai_chat.cdk_seam import CHECK_UNAVAILABLE, CONCURRENT_SUMMARY, exception_of


def explain_check_failure(message: str, base_url: str) -> str:
    """Turn the CDK's "'Stream x is not available: ...'" repr into the reason itself."""
    message = message.strip()
    if len(message) > 1 and message[0] == message[-1] and message[0] in "'\"":
        message = message[1:-1]
    message = CHECK_UNAVAILABLE.sub("", message)
    if CONNECTION_FAILURE.search(message):
        return (
            f"Could not reach the API at base_url {base_url}: the connection failed or timed "
            "out. Check base_url and that this network can reach it."
        )
    return message


def closing_summary(
    error: AirbyteTracedException, stream_errors: list[AirbyteErrorTraceMessage]
) -> AirbyteTracedException:
    """The CDK's closing summary of a failed sync, saying what the first stream error said
    (one sentence, ending with OpenAI's request id) with that error's failure type. The CDK's
    own wording (a list of exception reprs, always a config_error) stays as internal_message."""
    if error.internal_message != CONCURRENT_SUMMARY or not stream_errors:
        return error
    first = stream_errors[0]
    return AirbyteTracedException(
        message=first.message,
        internal_message=f"{error.message} {error.internal_message}".strip(),
        failure_type=first.failure_type,
        exception=exception_of(error),
    )
