"""Configuration from environment variables, with the defaults of DESIGN.md §2.

Every service reads the same names so that one `.env` (or one compose file) configures the stack.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class InfraSettings(BaseSettings):
    """Where the infrastructure is; shared by every service and by the tests."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_url: str = "mongodb://127.0.0.1:27017/?replicaSet=rs0"
    mongodb_database: str = "catalog"
    events_topic: str = "product-events"
    events_partitions: int = 6
    log_level: str = "INFO"

    @property
    def dlq_topic(self) -> str:
        return f"{self.events_topic}.dlq"


class CommandSettings(InfraSettings):
    host: str = "127.0.0.1"
    command_port: int = 8001
    # Kafka transactional id: every instance configured with the same id fences the older one,
    # which is how the stack keeps exactly one writer per topic.
    command_transactional_id: str = "catalog-command-service"
    command_max_batch: int = 256
    command_timeout_s: float = 10.0


class ProjectorSettings(InfraSettings):
    host: str = "127.0.0.1"
    projector_port: int = 8003
    projector_group_id: str = "catalog-projector"
    # Static group membership: a restarted projector takes its partitions back at once instead
    # of waiting for the dead member's session to time out.
    projector_instance_id: str = "projector-1"
    projector_max_batch: int = 2000


class QuerySettings(InfraSettings):
    host: str = "127.0.0.1"
    query_port: int = 8002
    min_version_timeout_s: float = 5.0
