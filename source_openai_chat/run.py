"""Console script `source-openai-chat`: spec / check / discover / read, as Airbyte runs them."""

from __future__ import annotations

import sys
from typing import Any

from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.source import SourceOpenaiChat, validate_config

STATE_LINE = '{"type":"STATE"'


class OpenAIChatEntrypoint(AirbyteEntrypoint):
    """The CDK's entrypoint, with the typed config check before its JSON-schema check.

    The CDK validates the config against the spec first and reports jsonschema's wording
    ("101 is greater than the maximum of 100"), which names neither the field nor hides the
    value; ours names the field and never echoes a value.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Any) -> None:
        validate_config(config)
        AirbyteEntrypoint.validate_connection(source_spec, config)


def run(args: list[str] | None = None) -> None:
    """Build the source with config, catalog and state up front (the declarative source only
    interpolates the config it was constructed with), then run the verb like `launch` does."""
    args = sys.argv[1:] if args is None else args
    parsed = AirbyteEntrypoint.parse_args(args)
    config_path = getattr(parsed, "config", None)
    catalog_path = getattr(parsed, "catalog", None)
    state_path = getattr(parsed, "state", None)
    try:
        source = SourceOpenaiChat(
            config=SourceOpenaiChat.read_config(config_path) if config_path else None,
            catalog=SourceOpenaiChat.read_catalog(catalog_path) if catalog_path else None,
            state=SourceOpenaiChat.read_state(state_path) if state_path else None,
            config_path=config_path,
        )
    except AirbyteTracedException as refused:  # an input file it cannot use (inputs.py)
        print(AirbyteEntrypoint.airbyte_message_to_string(refused.as_airbyte_message()))
        sys.exit(1)
    entrypoint = OpenAIChatEntrypoint(source)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed):
            # One write per message, so threads cannot interleave a message and its newline.
            print(f"{message}\n", end="")
            if message.startswith(STATE_LINE):
                # A checkpoint counts once the platform has it (see feed_stream.PrintedStates).
                PRINT_BUFFER.flush()
