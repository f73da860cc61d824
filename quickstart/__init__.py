"""Quick start: sync stored chat completions into a local DuckDB file with PyAirbyte.

`make sync` runs `python -m quickstart`. With `OPENAI_API_KEY` set it reads the real API,
otherwise the bundled emulator. Not part of the connector package or its image.
"""
