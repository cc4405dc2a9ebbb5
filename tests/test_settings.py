"""Settings handed to another process: what was given explicitly, and nothing else, as LGSP_ variables
that the other process reads back to the same values."""

import pytest
from pydantic import SecretStr

from lgsp.settings import Settings


def test_the_environment_of_settings_reads_back_to_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(
        admin_token=SecretStr("a-long-enough-admin-token"),
        heartbeat_interval=0.3,
        kafka_idempotence=True,
        kafka_replication_factor=3,
        kafka_min_insync_replicas=2,
    )
    environment = given.environment()
    assert environment["LGSP_ADMIN_TOKEN"] == "a-long-enough-admin-token"
    assert environment["LGSP_KAFKA_IDEMPOTENCE"] == "true"
    assert "LGSP_PROBE_INTERVAL" not in environment, "defaults stay defaults in the other process"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    again = Settings()
    assert again.model_dump() == given.model_dump()


def test_replicas_and_min_insync_replicas_must_agree() -> None:
    with pytest.raises(ValueError, match="no write could ever be acknowledged"):
        Settings(kafka_replication_factor=1, kafka_min_insync_replicas=2)
