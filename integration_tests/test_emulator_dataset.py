"""The emulator's generated data: deterministic, drawn as `random.choice` draws, and inside the
schemas the connector declares."""

from __future__ import annotations

import random

import jsonschema

from integration_tests.emulator import dataset, generate
from source_openai_chat.streams.partitions import stream_schema


def test_tokens_are_the_strings_random_choice_draws_from_the_same_seed():
    drawn_by_choice = random.Random(3)
    expected = ["".join(drawn_by_choice.choice(dataset.CHARS) for _ in range(n)) for n in (29, 7)]

    generator = random.Random(3)

    assert [dataset._token(generator, n) for n in (29, 7)] == expected


def test_the_same_seed_generates_the_same_dataset():
    assert dataset.generate(20) == dataset.generate(20)


def test_generated_completions_validate():
    records = generate(300).completions

    validator = jsonschema.Draft7Validator(
        stream_schema("chat_completions")
    )  # the schema is checked once, not per record
    for record in records:
        validator.validate(record)


def test_generated_messages_with_parent_fields_validate():
    dataset = generate(120)
    validator = jsonschema.Draft7Validator(stream_schema("chat_completion_messages"))
    created = {c["id"]: c["created"] for c in dataset.completions}
    for completion_id, messages in dataset.messages.items():
        for message in messages:
            record = {
                **message,
                "completion_id": completion_id,
                "completion_created": created[completion_id],
            }
            validator.validate(record)
