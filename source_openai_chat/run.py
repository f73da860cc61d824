"""Console script `source-openai-chat`: spec / check / discover / read, as Airbyte runs them."""

from __future__ import annotations

import sys

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch

from source_openai_chat.source import SourceOpenaiChat


def run(args: list[str] | None = None) -> None:
    """Build the source with config, catalog and state up front: the declarative source only
    interpolates the config it was constructed with."""
    args = sys.argv[1:] if args is None else args
    parsed = AirbyteEntrypoint.parse_args(args)
    config_path = getattr(parsed, "config", None)
    catalog_path = getattr(parsed, "catalog", None)
    state_path = getattr(parsed, "state", None)
    source = SourceOpenaiChat(
        config=SourceOpenaiChat.read_config(config_path) if config_path else None,
        catalog=SourceOpenaiChat.read_catalog(catalog_path) if catalog_path else None,
        state=SourceOpenaiChat.read_state(state_path) if state_path else None,
        config_path=config_path,
    )
    launch(source, args)
