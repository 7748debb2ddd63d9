"""Settings from the environment. Defaults fit the local stack (`deploy/local/stack.sh up`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every variable is read as `MELDESPIEGEL_<NAME>`; the database also as `DATABASE_URL`."""

    model_config = SettingsConfigDict(env_prefix="MELDESPIEGEL_", extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how clients talk to the brokers"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism, for SASL_PLAINTEXT and SASL_SSL"
    )
    kafka_sasl_username: str = Field("", description="SASL user of this client")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="its password")
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle the brokers' certificates are checked against (SSL)"
    )
    installation: str = Field(
        "",
        pattern=r"^([a-z][a-z0-9]*_)?$",
        description="a second installation on the same broker and database (another state's, in "
        "the tests): prefixes every consumer group and schema (e.g. `by_`); its topics take "
        "MELDESPIEGEL_TOPIC_NAMESPACE",
    )
    instance_id: str | None = Field(
        None,
        description="this process's stable name among its service's replicas (the process "
        "list's entry, a pod's name); with it, every consumer joins its group as a static member "
        "(group.instance.id), and a restarted process takes its partitions back at once, without "
        "a rebalance. Two running processes must never share one.",
    )
    kafka_linger_ms: int = Field(
        0,
        description="how long the producer waits to put more records into one request; more "
        "records per request cost the broker and the service less, each hop this much latency",
    )
    kafka_replication_factor: int = Field(
        1, description="replicas of each topic `kafka_admin ensure` creates (3 on a cluster)"
    )
    kafka_min_insync_replicas: int = Field(
        1,
        description="replicas that must have a record before it counts as written (acks=all); "
        "2 of 3 on a cluster, so one broker may fail without losing or refusing a write",
    )
    kafka_session_timeout_ms: int = Field(
        10_000,
        description="how long the group waits for a process that stopped heartbeating (killed, "
        "hung) before its partitions go to the others; at least the brokers' "
        "group.min.session.timeout.ms",
    )
    kafka_heartbeat_interval_ms: int = Field(
        3_000,
        description="how often a consumer tells its group it lives; a rebalance (a replica "
        "joining or leaving) waits up to this long for each member to notice (500 ms measured "
        "slower on the query path under load, bench/README.md)",
    )
    kafka_static_session_timeout_ms: int = Field(
        10_000,
        description="how long a static member's partitions wait for it to come back before the "
        "group gives them to the others; a restart within it moves no partition. Well below the "
        "router's 30 s register deadline: a replica that stays away hands its partitions to the "
        "other one in time for their queries (tests/cluster)",
    )
    database_url: str = Field(
        "postgresql://meldespiegel:meldespiegel@127.0.0.1:5433/meldespiegel",
        validation_alias=AliasChoices("DATABASE_URL", "MELDESPIEGEL_DATABASE_URL"),
        description="PostgreSQL DSN; each service works in its own schema of this database",
    )
    log_level: str = Field("INFO", description="minimum level of the JSON log")
    max_event_bytes: int = Field(
        256 * 1024, description="larger events are refused into the dead-letter topic"
    )
    handler_max_attempts: int = Field(
        5, description="attempts for a handler error before the message is dead-lettered"
    )
    retry_backoff_seconds: float = Field(0.2, description="first retry delay, doubled per retry")
    retry_backoff_max_seconds: float = Field(10.0, description="ceiling of the retry delay")
    batch_max_records: int = Field(
        500, description="records a batch subscriber takes at once (the query path's topics)"
    )
    outbox_sweep_seconds: float = Field(
        5.0, description="how often unpublished outbox events are looked for"
    )
    published_outbox_keep_seconds: float = Field(
        60.0,
        description="how long a published event stays in the outbox (they carry queries' "
        "criteria and answers: kept no longer than their publishing needs)",
    )
    consumer_lag_seconds: float = Field(
        15.0, description="how often the consumer lag metric is refreshed"
    )
    personal_data_sweep_seconds: float = Field(
        30.0, description="how often data a query no longer needs is deleted"
    )
    pki_dir: Path = Field(
        Path(".local/pki"),
        description="certificates and keys (`python -m shared.platform.pki init DIR`)",
    )
    print_spool_dir: Path = Field(
        Path(".local/print-spool"), description="where letters for the postal service are put"
    )
    metrics_host: str = Field("127.0.0.1", description="where /metrics and /health listen")
    metrics_port: int = Field(0, description="port of /metrics and /health; 0 turns them off")
    tracing: Literal["off", "otlp"] = Field(
        "off",
        description="OpenTelemetry traces over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, or off",
    )
    operator_state: str = Field(
        "03", description="Landesschlüssel of the state that runs this Melderegisterdatenspiegel"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
