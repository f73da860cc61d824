"""The emulator's generated data: deterministic, and drawn as `random.choice` draws."""

from __future__ import annotations

import random

from integration_tests.emulator import dataset


def test_tokens_are_the_strings_random_choice_draws_from_the_same_seed():
    drawn_by_choice = random.Random(3)
    expected = ["".join(drawn_by_choice.choice(dataset.CHARS) for _ in range(n)) for n in (29, 7)]

    generator = random.Random(3)

    assert [dataset._token(generator, n) for n in (29, 7)] == expected


def test_the_same_seed_generates_the_same_dataset():
    assert dataset.generate(20) == dataset.generate(20)
