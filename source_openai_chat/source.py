"""The connector: the declarative manifest shipped in this package, behind a config check."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.config import InvalidConfig, parse_config
from source_openai_chat.errors import explain_check_failure, with_stream_failure_type


class SourceOpenaiChat(YamlDeclarativeSource):
    """Reads `manifest.yaml`; config, catalog and state must be given here, at construction.

    `check`, `discover` and `read` first validate the config (see config.py), so a bad value is
    refused with a message naming the field and `failure_type: config_error`.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        catalog: ConfiguredAirbyteCatalog | None = None,
        state: list[AirbyteStateMessage] | None = None,
        config_path: str | None = None,
    ) -> None:
        super().__init__(
            path_to_yaml="manifest.yaml",
            config=config,
            catalog=catalog,
            state=state,
            config_path=config_path,
        )

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            parsed = parse_config(self._config or config)
        except InvalidConfig as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        status = super().check(logger, config)
        if status.status == Status.FAILED:
            status.message = explain_check_failure(status.message or "", parsed.base_url)
        return status

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        validate_config(self._config or config)
        return super().discover(logger, config)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        validate_config(self._config or config)
        failure_types: list[FailureType] = []
        try:
            for message in super().read(logger, config, catalog, state):
                if message.type == Type.TRACE and message.trace.error:
                    failure_types.append(message.trace.error.failure_type)
                yield message
        except AirbyteTracedException as error:
            raise with_stream_failure_type(error, failure_types) from error.__cause__


def validate_config(config: Mapping[str, Any]) -> None:
    """Refuse a bad config as Airbyte expects: a traced `config_error` naming the field."""
    try:
        parse_config(dict(config))
    except InvalidConfig as error:
        raise AirbyteTracedException(
            message=str(error), internal_message=str(error), failure_type=FailureType.config_error
        ) from None
