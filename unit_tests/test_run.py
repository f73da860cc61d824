"""The console script's protocol lines."""

from __future__ import annotations

import json

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import (
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    Level,
    Type,
)

from source_openai_chat.run import message_line


def record(data: dict) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.RECORD,
        record=AirbyteRecordMessage(stream="chat_completions", data=data, emitted_at=1),
    )


def test_a_record_keeps_every_key_the_api_sent_nulls_included():
    data = {"id": "c1", "tool_choice": None, "seed": -(2**63), "usage": {"x": None}}

    line = json.loads(message_line(record(data)))

    assert line == {
        "type": "RECORD",
        "record": {"stream": "chat_completions", "data": data, "emitted_at": 1},
    }


def test_an_integer_beyond_64_bits_is_still_written():
    assert (
        json.loads(message_line(record({"id": "c1", "n": 2**70})))["record"]["data"]["n"] == 2**70
    )


def test_other_messages_are_written_by_the_cdk():
    log = AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="hi"))

    assert message_line(log) == AirbyteEntrypoint.airbyte_message_to_string(log)
