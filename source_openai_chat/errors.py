"""Error messages as a user should read them, where the CDK's own wording misleads."""

from __future__ import annotations

import re

import requests
from airbyte_cdk.models import AirbyteErrorTraceMessage, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.cdk_seam import CHECK_UNAVAILABLE, CONCURRENT_SUMMARY, exception_of

# How _describe_exception words a request that never got an answer.
CONNECTION_FAILED = "the connection failed"
CONNECTION_TIMED_OUT = "the connection timed out"
NO_ANSWER = "no answer within the read timeout"
CONNECTION_FAILURE = re.compile(
    rf"({CONNECTION_FAILED}|{CONNECTION_TIMED_OUT}|{NO_ANSWER}|ConnectionError|ConnectTimeout|"
    r"ReadTimeout|NameResolutionError|Failed to resolve|Connection refused|Max retries exceeded)"
)


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


def retries_exhausted(cause: str) -> AirbyteTracedException:
    """A request that failed on every retry: transient, and the sync can resume."""
    message = (
        f"The API kept failing after every retry ({cause}). The sync stopped; run it again "
        "to continue from the last state it saved."
    )
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.transient_error
    )


def describe_answer(answer: requests.Response | BaseException) -> str:
    """What the API answered, in a few words: the status and OpenAI's own message."""
    if not isinstance(answer, requests.Response):
        return _describe_exception(answer)
    try:
        detail = str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        detail = answer.reason or "no message"
    request_id = answer.headers.get("x-request-id")
    return f"HTTP {answer.status_code}: {detail}" + (
        f" (request id {request_id})" if request_id else ""
    )


ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _describe_exception(error: BaseException) -> str:
    """A failed request in a few words; requests' own text nests three reprs and the URL."""
    if isinstance(error, requests.ConnectTimeout):
        return CONNECTION_TIMED_OUT
    if isinstance(error, requests.ReadTimeout):
        return NO_ANSWER
    if isinstance(error, requests.ConnectionError):
        reason = ERRNO.search(str(error))
        return f"{CONNECTION_FAILED} ({reason.group(0) if reason else type(error).__name__})"
    return f"{type(error).__name__}: {error}"
