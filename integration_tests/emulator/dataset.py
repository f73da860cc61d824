"""Deterministic, realistic stored chat completions for the emulator.

Shapes follow the list endpoint's real items (see shared/reference): schema fields plus the extras
the list returns (`request_id`, `seed`, `tools`...), nulls where the API sends them, several
models, metadata, tool calls, unicode, int64 seeds above 2**53, and input messages from zero to
several pages. The same `seed` always gives the same records.
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field
from typing import Any

MODELS = (
    "gpt-4o-2024-08-06",
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1-2025-04-14",
    "o3-mini-2025-01-31",
)
TEAMS = ("search", "support", "growth", "ml-platform")
FEATURES = ("summarize", "classify", "chat", "extract")
SERVICE_TIERS = ("default", "auto", "flex", "scale", "priority", "fast")  # every value seen
ANSWERS = (
    "Here is a short summary of the ticket: the customer cannot log in after the update.",
    "Résumé : la facture n°42 a été payée le 3 mars. Merci beaucoup !",
    "東京の天気は晴れです。最高気温は22度の予報です。",
    "Категория: биллинг. Приоритет: высокий.",
    "Sure! 🚀 The deployment finished in 4m12s; all 37 checks passed ✅.",
    'The JSON you asked for: {"sentiment": "positive", "score": 0.93}',
    "I'm sorry, but I can't help with that request.",
)
PROMPTS = (
    "Summarize this support ticket in one sentence.",
    "Classify the sentiment of the following review: «Très bon produit, livraison rapide.»",
    "What's the weather in 東京 today?",
    "Extract the invoice number and the payment date.",
    "Write a haiku about databases 🗄️",
)
BASE_CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z
CHARS = string.ascii_letters + string.digits


@dataclass
class Dataset:
    """Completions (list items) and their input messages, keyed by completion id."""

    completions: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _token(rng: random.Random, length: int) -> str:
    """`rng.choice(CHARS)` `length` times, drawn as `choice` draws (rejection sampling on
    `getrandbits`, as CPython's Random does) but without three calls per character: the same
    strings, in half the time (every test's emulator generates hundreds of ids)."""
    bits, getrandbits = len(CHARS).bit_length(), rng.getrandbits
    drawn = []
    for _ in range(length):
        index = getrandbits(bits)
        while index >= len(CHARS):
            index = getrandbits(bits)
        drawn.append(CHARS[index])
    return "".join(drawn)


def _tool_call(rng: random.Random) -> dict[str, Any]:
    """A function tool call, or now and then a custom tool call (free-form `input`)."""
    call_id = f"call_{_token(rng, 24)}"
    if call_id[5] in "abcdef":
        return {
            "id": call_id,
            "type": "custom",
            "custom": {"name": "run_sql", "input": "SELECT count(*) FROM orders WHERE day = 'Mo'"},
        }
    return {
        "id": call_id,
        "type": "function",
        "function": {
            "name": "get_weather",
            "arguments": '{"city": "Zürich", "unit": "celsius"}',
        },
    }


def _usage(rng: random.Random, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {
            "cached_tokens": rng.choice((0, 0, 128, 1024)),
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": rng.choice((0, 0, 64, 256)),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _choice(rng: random.Random, index: int, with_tools: bool) -> dict[str, Any]:
    tool_calls = [_tool_call(rng)] if with_tools else None
    answer = None if with_tools else rng.choice(ANSWERS)
    return {
        "index": index,
        "message": {
            "role": "assistant",
            "content": answer,
            "refusal": None,
            "tool_calls": tool_calls,
            "function_call": None,
            "annotations": [],
        },
        "finish_reason": "tool_calls" if with_tools else rng.choice(("stop", "stop", "length")),
        "logprobs": None,
    }


def make_completion(
    rng: random.Random, created: int, *, model: str | None = None
) -> dict[str, Any]:
    """One list item as the API returns it, about 1.5 KB of JSON."""
    with_tools = rng.random() < 0.2
    n_choices = 2 if rng.random() < 0.1 else 1
    prompt_tokens = rng.randint(12, 4000)
    metadata: dict[str, str] = {}
    if rng.random() < 0.8:
        metadata = {"team": rng.choice(TEAMS), "feature": rng.choice(FEATURES)}
    return {
        "object": "chat.completion",
        "id": f"chatcmpl-{_token(rng, 29)}",
        "model": model or rng.choice(MODELS),
        "created": created,
        "request_id": f"req_{_token(rng, 32).lower()}",
        "tool_choice": "auto" if with_tools else None,
        "usage": _usage(rng, prompt_tokens, rng.randint(1, 900)),
        # int64 seeds: negative, and above 2**53, where floats would lose digits.
        "seed": rng.choice((rng.randint(-(2**63), 2**63 - 1), 4944116822809979520, None)),
        "top_p": 1.0,
        "temperature": rng.choice((0.0, 0.7, 1.0)),
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "system_fingerprint": f"fp_{_token(rng, 10).lower()}",
        "input_user": rng.choice((None, "user-1234", "ünïcode-üser")),
        "service_tier": rng.choice(SERVICE_TIERS),
        "tools": (
            [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Current weather for a city",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                            "required": ["city"],
                        },
                    },
                }
            ]
            if with_tools
            else None
        ),
        "metadata": metadata,
        "choices": [_choice(rng, i, with_tools) for i in range(n_choices)],
        "response_format": rng.choice((None, {"type": "text"}, {"type": "json_object"})),
    }


def make_messages(rng: random.Random, completion_id: str, count: int) -> list[dict[str, Any]]:
    """Input messages of one completion: ids `<completion_id>-0`, `-1`, ..."""
    roles = ("system", "user", "assistant", "tool", "developer")
    messages = []
    for i in range(count):
        role = "system" if i == 0 else rng.choice(roles)
        text = rng.choice(PROMPTS)
        messages.append(
            {
                "id": f"{completion_id}-{i}",
                "role": role,
                "content": text,
                "content_parts": (
                    [{"type": "text", "text": text}]
                    if role == "user" and rng.random() < 0.5
                    else None
                ),
                "name": "helper" if role == "tool" else None,
            }
        )
    return messages


def message_count(index: int, rng: random.Random) -> int:
    """Most completions have a few messages; some none; every 97th has several pages."""
    if index % 97 == 5:
        return 150 + index % 50
    if index % 11 == 3:
        return 0
    return rng.randint(1, 6)


def generate(count: int, seed: int = 7, start: int = BASE_CREATED) -> Dataset:
    """`count` completions with increasing `created`, several per second at times (ties)."""
    rng = random.Random(seed)
    dataset = Dataset()
    created = start
    for index in range(count):
        created += rng.choice((0, 0, 1, 3, 17, 60, 900))
        record = make_completion(rng, created)
        dataset.completions.append(record)
        dataset.messages[record["id"]] = make_messages(rng, record["id"], message_count(index, rng))
    return dataset


def generate_recent(count: int, span_seconds: int, seed: int = 11) -> Dataset:
    """`count` completions created evenly over the last `span_seconds` before now, two input
    messages each: a busy lookback window."""
    rng = random.Random(seed)
    now = int(time.time())
    dataset = Dataset()
    for index in range(count):
        record = make_completion(rng, now - span_seconds + index * span_seconds // count)
        dataset.completions.append(record)
        dataset.messages[record["id"]] = make_messages(rng, record["id"], 2)
    return dataset
