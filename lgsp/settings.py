"""Settings of every LGSP process, from the environment (prefix `LGSP_`) or a `.env` file."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import Field, FilePath, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from lgsp.settings_keys import KeySettings
from lgsp.tracker.settings import IdentitySettings

#: Kafka security protocols aiokafka speaks (the names Kafka itself uses).
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
#: SASL mechanisms supported here: each authenticates with a user name and a password.
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


#: The largest record a worker takes from the bus (LGSP_MAX_MESSAGE_BYTES): 1 MB, so that a record the
#: hub makes from one it took (the bus layer's ENVELOPE_BYTES more at most) stays within Kafka's default
#: message.max.bytes.
MAX_MESSAGE_BYTES = 1_000_000


class Settings(IdentitySettings, KeySettings):
    """One place for every tunable; defaults run everything embedded on one machine."""

    # Secrets may also come as files named after the variable (lgsp_admin_token, lgsp_database_url...)
    # in LGSP_SECRETS_DIR, as Compose and Kubernetes mount them (/run/secrets).
    model_config = SettingsConfigDict(
        env_prefix="LGSP_", env_file=".env", extra="ignore", secrets_dir=os.environ.get("LGSP_SECRETS_DIR")
    )

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
    consumer_fetch_max_wait_ms: int = Field(
        default=10,
        ge=1,
        le=5_000,
        description="How long a consumer's fetch waits for records: the embedded broker answers a waiting"
        " fetch only then, so each hop of an exchange may take this long; lower costs idle CPU",
    )
    connectivity_partitions: int = Field(default=6, ge=1, le=256, description="Partitions of shared topics")
    inbox_partitions: int = Field(default=2, ge=1, le=64, description="Partitions of each system's inbox")
    kafka_replication_factor: int = Field(
        default=1,
        ge=1,
        le=7,
        description="Replicas of each topic the hub creates: 3 on a production cluster, 1 embedded",
    )
    kafka_min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        le=7,
        description="min.insync.replicas of the topics the hub creates (2 with 3 replicas)",
    )
    kafka_idempotence: bool = Field(
        default=False,
        description="Idempotent producers (Apache Kafka; the embedded broker does not support them)",
    )

    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description="How clients talk to the cluster: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="PLAIN", description="SASL mechanism with SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    kafka_sasl_plain_username: str | None = Field(default=None, description="SASL user name (SASL_* only)")
    kafka_sasl_plain_password: SecretStr | None = Field(
        default=None, description="SASL password (SASL_* only)"
    )
    kafka_ssl_cafile: FilePath | None = Field(
        default=None, description="PEM CA bundle that signed the brokers' certificates; unset: system CAs"
    )
    kafka_ssl_certfile: FilePath | None = Field(
        default=None, description="PEM client certificate, for clusters that authenticate clients by TLS"
    )
    kafka_ssl_keyfile: FilePath | None = Field(
        default=None, description="PEM private key of the client certificate (if not in the certificate file)"
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted client key"
    )
    kafka_principals: bool = Field(
        default=False,
        description="Create a SCRAM principal and ACLs per system on registration; needs an Apache Kafka"
        " cluster with SASL/SCRAM and an authorizer (docs/deployers/kafka-acls.md)",
    )

    province: str = Field(default="HCM", description="Code of this province in the national catalogue")
    dead_letter_raw: bool = Field(
        default=False,
        description="Raw mode, for debugging: also keep rejected records whole (personal data included) on"
        " <prefix>.dead-letters.raw; the dead-letter topic keeps only their envelopes",
    )
    dead_letter_raw_hours: float = Field(
        default=24.0, gt=0, le=168, description="Hours the broker keeps the raw dead letters (raw mode)"
    )
    bus_replay_window: float = Field(
        default=120.0,
        gt=0,
        description="Seconds within which a message id seen twice is a replay; heartbeats, hellos and"
        " probes older than this are stale",
    )
    bus_clock_skew: float = Field(
        default=30.0, ge=0, description="Seconds a message's send time may be ahead of the receiver's clock"
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
    audit_anchor_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between signed anchors of the audit chain's head (to the NGSP and the anchor"
        " file): a tail cut off or re-sealed later than the last anchor cannot be told",
    )
    audit_anchor_file: Path | None = Field(
        default=None,
        description="File each hub process appends its signed anchors to (JSON Lines), for the operator to"
        " ship elsewhere; `lgsp audit verify` and the API check the chain against it; unset: NGSP only",
    )

    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body the API accepts (413 beyond)"
    )
    max_message_bytes: int = Field(
        default=MAX_MESSAGE_BYTES,
        ge=64 * 1024,
        description="Largest record the hub takes from the bus: a larger one is dead-lettered (too_large) and"
        " a larger request answered client.bad_request; keep it 32 KiB under the cluster's message.max.bytes",
    )
    max_schema_bytes: int = Field(
        default=65_536,
        ge=1024,
        le=1_048_576,
        description="Largest request or response JSON Schema a service may declare, as compact UTF-8 JSON"
        " (422 beyond)",
    )
    max_services_per_system: int = Field(
        default=100, ge=1, le=10_000, description="Most services one system may declare (409 beyond)"
    )
    exchange_rate_per_client: float = Field(
        default=500.0,
        gt=0,
        description="Requests per second each client system may make through one hub process, on average;"
        " beyond, client.rate_limited",
    )
    exchange_burst_per_client: int = Field(
        default=1000, ge=1, description="Requests a client system may make at once (its bucket's size)"
    )
    public_rate_per_address: float = Field(
        default=100.0, gt=0, description="Requests/s an address may make to routes without a key (burst: 5 s)"
    )
    auth_failures_per_address: int = Field(
        default=20, ge=1, description="Bad keys (401) an address may send a minute, then 429 for a minute"
    )
    trusted_proxies: str = Field(
        default="127.0.0.1", description="Comma-separated IPs/CIDRs of proxies trusted for X-Forwarded-For"
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

    @model_validator(mode="after")
    def _principals_need_an_authenticated_cluster(self) -> "Settings":
        # The hub sets credentials and ACLs as its own principal: an anonymous client could not (and a
        # cluster that lets one would have no ACLs worth setting).
        anonymous = not self.kafka_bootstrap or self.kafka_security_protocol == "PLAINTEXT"
        if self.kafka_principals and anonymous:
            raise ValueError(
                "kafka_principals needs kafka_bootstrap and a kafka_security_protocol that authenticates the"
                " hub (SASL_SSL, SASL_PLAINTEXT or SSL)"
            )
        return self

    @model_validator(mode="after")
    def _kafka_security_is_consistent(self) -> "Settings":
        # A setting that would be silently ignored is refused: a SASL password without a SASL protocol,
        # for instance, would connect in clear and fail later with a far less helpful error.
        protocol = self.kafka_security_protocol
        sasl, tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
        if protocol != "PLAINTEXT" and not self.kafka_bootstrap:
            raise ValueError(
                f"kafka_security_protocol {protocol} needs kafka_bootstrap (the embedded broker is plaintext)"
            )
        if sasl and (self.kafka_sasl_plain_username is None or self.kafka_sasl_plain_password is None):
            raise ValueError(f"{protocol} needs kafka_sasl_plain_username and kafka_sasl_plain_password")
        if not sasl and (
            self.kafka_sasl_plain_username is not None or self.kafka_sasl_plain_password is not None
        ):
            raise ValueError(
                f"SASL credentials are set but kafka_security_protocol is {protocol}, not SASL_*"
            )
        tls_files = (
            self.kafka_ssl_cafile,
            self.kafka_ssl_certfile,
            self.kafka_ssl_keyfile,
            self.kafka_ssl_key_password,
        )
        if not tls and any(value is not None for value in tls_files):
            raise ValueError(
                f"TLS files are set but kafka_security_protocol is {protocol}, not SSL or SASL_SSL"
            )
        if self.kafka_ssl_certfile is None and (
            self.kafka_ssl_keyfile is not None or self.kafka_ssl_key_password is not None
        ):
            raise ValueError("kafka_ssl_keyfile and kafka_ssl_key_password need kafka_ssl_certfile")
        return self

    @model_validator(mode="after")
    def _replicas_are_consistent(self) -> "Settings":
        minimum = self.kafka_min_insync_replicas
        if minimum is not None and minimum > self.kafka_replication_factor:
            raise ValueError(
                f"kafka_min_insync_replicas ({minimum}) exceeds kafka_replication_factor "
                f"({self.kafka_replication_factor}): no write could ever be acknowledged"
            )
        return self

    def kafka_options(self) -> dict[str, Any]:
        """The security keyword arguments of every aiokafka client (producer, consumer, admin).

        The one place they are built: the bus, the prober, the REST façade's listener, the NGSP stub and
        the connectors the hub starts all pass these on, so no client can be left on plaintext. With TLS
        a fresh `ssl.SSLContext` is built (system CAs unless a CA file is given; the files are read now).
        """
        protocol = self.kafka_security_protocol
        options: dict[str, Any] = {"security_protocol": protocol}
        if protocol.startswith("SASL_"):
            assert self.kafka_sasl_plain_password is not None  # checked by _kafka_security_is_consistent
            options |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": self.kafka_sasl_plain_username,
                "sasl_plain_password": self.kafka_sasl_plain_password.get_secret_value(),
            }
        if protocol.endswith("SSL"):
            password = self.kafka_ssl_key_password
            options["ssl_context"] = create_ssl_context(
                cafile=self.kafka_ssl_cafile,
                certfile=self.kafka_ssl_certfile,
                keyfile=self.kafka_ssl_keyfile,
                password=password.get_secret_value() if password is not None else None,
            )
        return options

    def environment(self) -> dict[str, str]:
        """The settings given explicitly (in code or by the environment), as the `LGSP_` variables that
        hand them to another process, such as an `lgsp hub` started by a tool or a test."""
        environment: dict[str, str] = {}
        for name in sorted(self.model_fields_set):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = str(value).lower()
            environment[f"LGSP_{name.upper()}"] = str(value)
        return environment


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
