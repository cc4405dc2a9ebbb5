"""The Kafka tests' fixtures: a SASL cluster of the module's own, for the tests of per-system Kafka
principals; the cluster fault tests print their summaries again at the end of the run, like tests/faults."""

from collections.abc import AsyncIterator

import pytest

from sandbox.kafka import KafkaCluster
from tests.faults.conftest import pytest_terminal_summary
from tests.support.sasl import REAUTH_MS

__all__ = ["pytest_terminal_summary", "sasl_cluster"]


@pytest.fixture(scope="module")
async def sasl_cluster() -> AsyncIterator[KafkaCluster]:
    """A 1-node cluster with SASL/SCRAM-SHA-512, the StandardAuthorizer and no access without an ACL,
    for one module (the session's cluster has no authentication); sessions last REAUTH_MS."""
    async with KafkaCluster(1, sasl=True, reauth_ms=REAUTH_MS) as running:
        yield running
