"""Console script `source-openai-chat`: spec / check / discover / read, as Airbyte runs them."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any, NoReturn

import orjson
from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, ConnectorSpecification, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.interrupt import exit_on_signals
from source_openai_chat.source import SourceOpenaiChat, validated

STATE_LINE = '{"type":"STATE"'


class OpenAIChatEntrypoint(AirbyteEntrypoint):
    """The CDK's entrypoint with two changes.

    - The typed config check runs before the CDK's JSON-schema check, which reports
      jsonschema's wording ("101 is greater than the maximum of 100"), naming neither the field
      nor hiding the value; ours names the field and never echoes a value.
    - `read` writes records with every key the API sent, nulls included: the CDK's serializer
      drops a record's top-level keys whose value is null (its `omit_none`), so a warehouse
      could not tell "sent as null" from "not sent". The read branch of the CDK's `run` is
      repeated here, with public calls only, because `run` serializes through the class
      `AirbyteEntrypoint` itself rather than through `self`.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Any) -> None:
        validated(config)
        AirbyteEntrypoint.validate_connection(source_spec, config)

    def run(self, parsed_args: argparse.Namespace) -> Iterator[str]:
        if parsed_args.command != "read":
            yield from super().run(parsed_args)
            return
        source_spec = self.source.spec(self.logger)
        try:
            with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as temp_dir:
                config = self.source.configure(
                    self.source.read_config(parsed_args.config), temp_dir
                )
                yield from self._queued_lines()
                catalog = self.source.read_catalog(parsed_args.catalog)
                state = self.source.read_state(parsed_args.state)
                yield from map(message_line, self.read(source_spec, config, catalog, state))
        finally:
            yield from self._queued_lines()

    def _queued_lines(self) -> Iterator[str]:
        repository = getattr(self.source, "message_repository", None)
        if repository:
            yield from map(message_line, repository.consume_queue())


def message_line(message: AirbyteMessage) -> str:
    """One protocol line; a record keeps its null values (see OpenAIChatEntrypoint)."""
    if message.type != Type.RECORD or message.record is None or message.record.meta:
        return AirbyteEntrypoint.airbyte_message_to_string(message)
    record = message.record
    body: dict[str, Any] = {"stream": record.stream, "data": record.data}
    if record.namespace is not None:
        body = {"namespace": record.namespace, **body}
    body["emitted_at"] = record.emitted_at
    try:
        return orjson.dumps({"type": "RECORD", "record": body}).decode()
    except TypeError:  # an integer beyond 64 bits: the stdlib writes any
        return json.dumps({"type": "RECORD", "record": body}, ensure_ascii=False)


def run(args: list[str] | None = None) -> None:
    """The console script: print each protocol line as `launch` does. SIGINT and SIGTERM end
    it at once with 130 / 143 (see interrupt.py)."""
    args = sys.argv[1:] if args is None else args
    exit_on_signals(reading=args[:1] == ["read"])
    with PRINT_BUFFER:
        for line in protocol_lines(args):
            # One write per message, so threads cannot interleave a message and its newline.
            print(f"{line}\n", end="")
            if line.startswith(STATE_LINE):
                # A checkpoint counts once the platform has it (streams.partitions.PrintedStates).
                PRINT_BUFFER.flush()
    exit_without_teardown()


def exit_without_teardown() -> NoReturn:
    """Exit 0 once everything is printed, skipping the interpreter's teardown.

    Why: with airbyte_cdk imported, the interpreter spends longer after `atexit` tearing its
    modules down than a small incremental sync's whole read (figures: bench/results). Only a
    run that finished comes here: logs and output are flushed first; a failing run exits the
    usual way (its excepthook prints the trace).
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def protocol_lines(args: list[str]) -> Iterator[str]:
    """Run the verb. An input file it cannot use (inputs.py) ends it at once with a
    config_error trace and exit code 1, before anything is read."""
    parsed = AirbyteEntrypoint.parse_args(args)
    readers = {
        "config": SourceOpenaiChat.read_config,
        "catalog": SourceOpenaiChat.read_catalog,
        "state": SourceOpenaiChat.read_state,
    }
    try:
        for name, read in readers.items():
            path = getattr(parsed, name, None)
            if path:
                read(path)
    except AirbyteTracedException as refused:
        yield AirbyteEntrypoint.airbyte_message_to_string(refused.as_airbyte_message())
        raise SystemExit(1) from None
    yield from OpenAIChatEntrypoint(SourceOpenaiChat()).run(parsed)
