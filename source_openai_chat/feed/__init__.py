"""The list of stored completions, read for both streams: reader, state, pages, stream base."""
