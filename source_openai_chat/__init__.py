"""Airbyte source for OpenAI stored chat completions."""

from source_openai_chat.source import SourceOpenaiChat

__all__ = ["SourceOpenaiChat"]
