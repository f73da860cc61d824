"""The files a verb is given: every form people have, or a config_error naming the file."""

from __future__ import annotations

import json

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat import inputs


def stream_state(name: str, created: str) -> dict:
    return {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": name}, "stream_state": {"created": created}},
    }


def message(state: dict) -> dict:
    return {"type": "STATE", "state": state}


def latest(states) -> dict[str, dict]:
    return {s.stream.stream_descriptor.name: s.stream.stream_state.__dict__ for s in states}


@pytest.fixture
def write(tmp_path):
    def write_(text: str) -> str:
        path = tmp_path / "file.json"
        path.write_text(text)
        return str(path)

    return write_


def test_a_list_of_states_as_airbyte_passes_it_is_read(write):
    path = write(json.dumps([stream_state("chat_completions", "1")]))

    assert latest(inputs.read_state(path)) == {"chat_completions": {"created": "1"}}


def test_the_state_lines_read_printed_are_read_and_the_last_of_each_stream_wins(write):
    lines = [
        message(stream_state("chat_completions", "1")),
        message(stream_state("chat_completion_messages", "5")),
        message(stream_state("chat_completions", "2")),
    ]
    path = write("\n".join(json.dumps(line) for line in lines) + "\n")

    assert latest(inputs.read_state(path)) == {
        "chat_completions": {"created": "2"},
        "chat_completion_messages": {"created": "5"},
    }


def test_a_json_list_of_whole_state_messages_is_read(write):
    path = write(json.dumps([message(stream_state("chat_completions", "3"))]))

    assert latest(inputs.read_state(path)) == {"chat_completions": {"created": "3"}}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"type": "RECORD", "record": {}}', "not a state"),
        ("not json\nat all", "neither JSON nor JSON lines"),
    ],
)
def test_anything_else_is_refused_showing_the_expected_form(write, text, words):
    with pytest.raises(AirbyteTracedException) as refused:
        inputs.read_state(write(text))

    assert refused.value.failure_type == FailureType.config_error
    assert words in refused.value.message
    assert "STATE lines" in refused.value.message


def test_a_missing_config_file_is_a_config_error_naming_it(tmp_path):
    missing = str(tmp_path / "nowhere.json")

    with pytest.raises(AirbyteTracedException, match="does not exist") as refused:
        inputs.read_config(missing)

    assert missing in refused.value.message
    assert refused.value.failure_type == FailureType.config_error


def test_a_config_that_is_not_json_is_refused_without_echoing_it(write):
    path = write('{"api_key": "sk-secret-in-a-broken-file",')

    with pytest.raises(AirbyteTracedException, match="not valid JSON") as refused:
        inputs.read_config(path)

    assert "sk-secret" not in refused.value.message


def test_a_catalog_that_is_not_a_catalog_is_refused(write):
    with pytest.raises(AirbyteTracedException, match="not a configured catalog"):
        inputs.read_catalog(write('{"streams": "none"}'))
