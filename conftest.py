"""What every test process shares: the CDK's component schema, parsed once.

The CDK parses its declarative component schema (a 4,000-line YAML file shipped in the
package) again for every source it builds: about 0.1 s of CPU each time. The connector builds
one source per process, so this costs a sync nothing; the suite builds about 200, so a test
process parses the file once and hands every source the same dict, which the CDK only reads
(it validates the manifest against it). unit_tests/test_cdk_seam.py holds the CDK to both: the
function is still the one it calls, and building and reading a source leaves the dict as parsed.
"""

from __future__ import annotations

import functools
import logging

import pytest


@pytest.fixture(autouse=True, scope="session")
def _component_schema_parsed_once() -> None:
    # Here rather than at import: xdist's controller process never builds a source.
    from airbyte_cdk.sources.declarative import concurrent_declarative_source as declarative

    declarative.get_declarative_component_schema = functools.cache(
        declarative.get_declarative_component_schema
    )


@pytest.fixture(autouse=True)
def _airbyte_logger_propagates() -> None:
    """PyAirbyte (the quick start's tests import it) stops the "airbyte" logger propagating,
    which the connector logs through: a test that reads the connector's log records after it,
    in the same process, would see none."""
    logging.getLogger("airbyte").propagate = True
