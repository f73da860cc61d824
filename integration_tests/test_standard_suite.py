"""The CDK's standard source tests, driven by acceptance-test-config.yml, against the emulator."""

from __future__ import annotations

import atexit

from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from integration_tests.emulator import Emulator, generate
from source_openai_chat import SourceOpenaiChat

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

# Scenarios are collected before any fixture runs, so the emulators start with the module.
EMULATORS = {
    "openai": Emulator(generate(250)).start(),
    "azure": Emulator(generate(250), azure=True).start(),
}
for _emulator in EMULATORS.values():
    atexit.register(_emulator.stop)


def _pointed_at_emulator(scenario: ConnectorTestScenario) -> ConnectorTestScenario:
    config = scenario.get_config_dict(
        connector_root=TestSourceOpenaiChat.get_connector_root_dir(), empty_if_missing=True
    )
    if "base_url" in config:
        provider = (config.get("api_provider") or {}).get("provider", "openai")
        config = {**config, "base_url": EMULATORS[provider].base_url}
    return scenario.model_copy(update={"config_dict": config})


class TestSourceOpenaiChat(SourceTestSuiteBase):
    connector = SourceOpenaiChat

    @classmethod
    def get_scenarios(cls) -> list[ConnectorTestScenario]:
        return [_pointed_at_emulator(s) for s in super().get_scenarios()]
