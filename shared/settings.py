"""Configuration from environment variables (docs/architecture.md, Contracts; README, Configuration).

Every service reads the same names so that one `.env` (or one compose file) configures the stack.
"""

from __future__ import annotations

import socket
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OtlpProtocol = Literal["http/protobuf", "grpc"]


class InfraSettings(BaseSettings):
    """Where the infrastructure is; shared by every service and by the tests."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_url: str = "mongodb://127.0.0.1:27017/?replicaSet=rs0"
    mongodb_database: str = "catalog"
    events_topic: str = "product-events"
    events_partitions: int = 6
    # Replication of the topics the services create when they are missing: 1 on a single broker,
    # 3 with min.insync.replicas 2 on a cluster. A topic found with fewer replicas than this
    # stops a service at start-up, since acks=all would then promise less than configured.
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_min_insync_replicas: int = Field(default=1, ge=1)
    log_level: str = "INFO"
    # OpenTelemetry tracing (README, "Tracing"), by the SDK's own variables. Off by default: spans
    # are recorded and exported only when an OTLP endpoint is set, or OTEL_TRACES_EXPORTER names
    # an exporter (otlp, console); OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none keep it
    # off. Without it a request's own `traceparent` still reaches the events (pass-through).
    otel_sdk_disabled: bool = False
    otel_traces_exporter: str | None = None
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_exporter_otlp_protocol: OtlpProtocol | None = None
    otel_exporter_otlp_traces_protocol: OtlpProtocol | None = None
    # Read by the SDK itself; here so that they are validated and reach the containers too.
    otel_exporter_otlp_headers: SecretStr | None = None
    otel_service_name: str | None = None
    otel_resource_attributes: str | None = None
    otel_traces_sampler: str | None = None
    otel_traces_sampler_arg: str | None = None
    otel_propagators: str | None = None

    @property
    def traces_exporters(self) -> list[str]:
        """The span exporters to run: [] when tracing is off."""
        if self.otel_sdk_disabled:
            return []
        if self.otel_traces_exporter is not None:
            names = [n.strip().lower() for n in self.otel_traces_exporter.split(",") if n.strip()]
            return [] if names == ["none"] else names
        endpoint = self.otel_exporter_otlp_traces_endpoint or self.otel_exporter_otlp_endpoint
        return ["otlp"] if endpoint else []

    @property
    def otlp_traces_protocol(self) -> OtlpProtocol:
        return (
            self.otel_exporter_otlp_traces_protocol
            or self.otel_exporter_otlp_protocol
            or "http/protobuf"
        )

    @field_validator("otel_traces_exporter")
    @classmethod
    def _known_exporters(cls, value: str | None) -> str | None:
        names = {n.strip().lower() for n in (value or "").split(",") if n.strip()}
        if unknown := names - {"otlp", "console", "none"}:
            raise ValueError(
                f"unknown exporter {', '.join(sorted(unknown))}: otlp, console or none"
            )
        if "none" in names and len(names) > 1:
            raise ValueError("none cannot be combined with other exporters")
        return value

    @property
    def dlq_topic(self) -> str:
        return f"{self.events_topic}.dlq"

    @property
    def changelog_topic(self) -> str:
        """The write side's compacted state changelog, co-partitioned with the event topic."""
        return f"{self.events_topic}.state"


class HttpSettings(InfraSettings):
    """The GraphQL services' HTTP edge: who may call, how much, how long, how much is shown."""

    host: str = "127.0.0.1"
    # Production mode turns off introspection and the GraphiQL explorer and takes CORS origins
    # only from CORS_ORIGINS. Errors never carry stack traces and logs are JSON in both modes.
    production_mode: bool = False
    # Comma-separated origins allowed by CORS; unset means "*" in development, none in production.
    cors_origins: str | None = None
    # Bearer tokens (JWT): HS256 with a shared secret, or RS256 with a PEM public key. The command
    # service refuses to start with neither; the query service checks them only when asked to.
    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    max_request_bytes: int = 262_144
    request_timeout_s: float = 15.0

    @property
    def allowed_origins(self) -> list[str]:
        if self.cors_origins is None:
            return [] if self.production_mode else ["*"]
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


class CommandSettings(HttpSettings):
    command_port: int = 8001
    # The consumer group the command instances share. Each owns the partitions it is assigned
    # and appends to them with transactional id "<group>.<topic>.<partition>", so whoever
    # claims a partition next fences every earlier owner of it (docs/scaling.md).
    command_group_id: str = "catalog-command"
    # How the other instances reach this one to hand it the commands of its partitions; it
    # travels in the group's assignment. Default: http://<HOST>:<COMMAND_PORT> (127.0.0.1 when
    # HOST is a wildcard address).
    command_advertised_url: str | None = None
    command_max_batch: int = Field(default=256, ge=1)
    command_timeout_s: float = Field(default=10.0, gt=0)
    # The last K commands of each product that appended an event are remembered with their
    # answers: a retry with the same commandId within that horizon returns the first answer.
    command_answers_per_product: int = Field(default=64, ge=0)
    # Group membership: an instance that stops heartbeating for the session timeout loses its
    # partitions to the others (6 s is the broker's default minimum).
    command_session_timeout_ms: int = Field(default=6_000, ge=1_000)
    command_heartbeat_interval_ms: int = Field(default=1_000, ge=100)

    @property
    def advertised_url(self) -> str:
        if self.command_advertised_url:
            return self.command_advertised_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.command_port}"

    def transactional_id(self, partition: int) -> str:
        """The partition's writer identity: whoever claims it next fences the previous one."""
        return f"{self.command_group_id}.{self.events_topic}.{partition}"


class ProjectorSettings(InfraSettings):
    host: str = "127.0.0.1"
    projector_port: int = 8003
    projector_group_id: str = "catalog-projector"
    # Static group membership: a restarted projector takes its partitions back at once instead
    # of waiting for the dead member's session to time out. Two members with one id fence each
    # other, so unset (or empty) it is derived from what tells running projectors apart and
    # stays the same across a restart: the host name and the HTTP port (see below).
    projector_instance_id: str = ""
    projector_max_batch: int = 2000
    # A rebuild folds up to this many products in memory (~1.5 KB each) and writes each once;
    # beyond it, the rest of the log goes through the transactional writer (slower, no memory).
    rebuild_max_products: int = 500_000
    # Processes that fold the log's partitions side by side in a rebuild (a product's events
    # never span partitions); each holds its share of rebuild_max_products. 1 folds in the
    # rebuild's own process.
    rebuild_workers: int = Field(2, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _instance_id_from_host_and_port(cls, data: Any) -> Any:
        """`projector-<host name>-<PROJECTOR_PORT>` unless PROJECTOR_INSTANCE_ID is set.

        Two projectors on one host cannot share a port, and a container's host name is its own,
        so no two running projectors get the same id; a restarted one gets its old id back.
        """
        if isinstance(data, dict) and not data.get("projector_instance_id"):
            port = data.get("projector_port", cls.model_fields["projector_port"].default)
            data = {**data, "projector_instance_id": f"projector-{socket.gethostname()}-{port}"}
        return data


class QuerySettings(HttpSettings):
    query_port: int = 8002
    # Processes serving the port (uvicorn's workers). Each has its own change feed, product
    # cache and subscriptions; one per core lets a query service use every core of its machine.
    query_workers: int = Field(default=1, ge=1)
    # The read side is open by default; with this set, queries and subscriptions need a token.
    query_auth_required: bool = False
    min_version_timeout_s: float = 5.0
    # Products `product(id)` keeps in memory (services/query/product_cache.py), about 1 KB each
    # (more with long texts): the default holds a 100,000-product catalog twice over, for
    # ~200 MB at most. 0 turns the cache off.
    query_product_cache_size: int = Field(default=200_000, ge=0)
    # Read the catalog into it (up to its size) at start and after a swap or feed outage, in the
    # background, instead of product by product as they are asked for.
    query_product_cache_warm: bool = True
    # What MongoDB may spend on one `products` page or `totalCount` (README, "Listing costs");
    # past it the listing is refused with QUERY_TOO_BROAD.
    query_listing_max_time_ms: int = Field(default=1000, ge=1)
