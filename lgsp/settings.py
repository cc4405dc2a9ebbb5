"""Settings of every LGSP process, from the environment (prefix `LGSP_`) or a `.env` file."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """One place for every tunable; defaults run everything embedded on one machine."""

    model_config = SettingsConfigDict(env_prefix="LGSP_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./lgsp.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB",
    )
    ngsp_database_url: str = Field(
        default="sqlite+aiosqlite:///./ngsp.db", description="The NGSP stub's own national database"
    )
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port[,host:port]; unset starts an embedded broker"
    )
    topic_prefix: str = Field(default="lgsp", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")
    consumer_session_timeout_ms: int = Field(
        default=10_000,
        ge=1000,
        le=300_000,
        description="Consumer-group session timeout; a new group joins in half of it",
    )
    connectivity_partitions: int = Field(default=6, ge=1, le=256, description="Partitions of shared topics")
    inbox_partitions: int = Field(default=2, ge=1, le=64, description="Partitions of each system's inbox")

    province: str = Field(default="HCM", description="Code of this province in the national catalogue")
    admin_token: SecretStr | None = Field(default=None, description="Bootstrap admin bearer token")
    secret_key: SecretStr | None = Field(
        default=None, description="Key for probe tokens and keyed hashes; stored in the database if unset"
    )

    heartbeat_interval: float = Field(default=5.0, gt=0, description="Seconds between connector heartbeats")
    heartbeat_ttl: float = Field(default=15.0, gt=0, description="A heartbeat older than this disconnects")
    probe_interval: float = Field(default=10.0, gt=0, description="Seconds between active probes")
    probe_ttl: float = Field(default=30.0, gt=0, description="A successful probe older than this disconnects")
    probe_timeout: float = Field(default=5.0, gt=0, description="A probe answered later than this fails")
    evaluate_interval: float = Field(
        default=1.0, gt=0, description="Seconds between connectivity evaluations"
    )

    catalogue: Path | None = Field(
        default=None, description="Once-only catalogue YAML (document types, procedures); unset: shipped"
    )
    once_only_target: float = Field(default=0.8, gt=0, le=1, description="Target of the once-only ratios")
    reuse_max_points: float = Field(
        default=1.0, gt=0, description="Full points of the Decision 766 reuse indicator on your scorecard"
    )

    audit_seal_interval: float = Field(default=1.0, gt=0, description="Seconds between audit-chain sealing")
    audit_snapshot_interval: float = Field(
        default=900.0, gt=0, description="Seconds between indicator snapshots kept in the audit trail"
    )

    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body the API accepts (413 beyond)"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    @model_validator(mode="after")
    def _ttls_cover_intervals(self) -> "Settings":
        if self.heartbeat_ttl <= self.heartbeat_interval:
            raise ValueError("heartbeat_ttl must be longer than heartbeat_interval")
        if self.probe_ttl <= self.probe_interval:
            raise ValueError("probe_ttl must be longer than probe_interval")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
