"""The two streams built on the feed: chat_completions and chat_completion_messages."""
