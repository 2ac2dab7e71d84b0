"""The infrastructure is the real thing: Apache Kafka in KRaft mode and a MongoDB 6 replica set."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import AsyncMongoClient

from shared.adapters.kafka_log import TopicMisconfigured, ensure_topics
from shared.settings import InfraSettings
from tests.support.infra import Infra


async def test_mongodb_is_a_6x_replica_set_with_a_primary(infra: Infra) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_url)
    try:
        info = await client.admin.command("buildInfo")
        status = await client.admin.command("replSetGetStatus")
    finally:
        await client.close()
    assert str(info["version"]).startswith("6.")
    assert status["set"] == "rs0"
    assert [m["stateStr"] for m in status["members"]] == ["PRIMARY"]


async def test_kafka_is_apache_kafka_and_the_event_topic_is_kept_forever(
    infra: Infra, isolated_env: dict[str, str]
) -> None:
    # Infrastructure given by environment variables does not say its version; what the tests
    # start themselves (CI) does.
    assert infra.kafka_version.startswith("Apache Kafka 3.9") or infra.source.startswith("env")
    settings = InfraSettings(
        **{k.lower(): v for k, v in isolated_env.items() if k.lower() in InfraSettings.model_fields}
    )
    first = await ensure_topics(settings)
    assert await ensure_topics(settings) == first  # a second call finds them, changes nothing
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        topics = [settings.events_topic, settings.dlq_topic, settings.changelog_topic]
        described = await admin.describe_topics(topics)
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
        )
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    assert partitions == first == {topics[0]: 6, topics[1]: 3, topics[2]: 6}
    entries = {
        resource[3]: {e[0]: e[1] for e in resource[4]}
        for config in configs
        for resource in config.resources
    }
    assert entries[settings.events_topic]["retention.ms"] == "-1"
    assert entries[settings.changelog_topic]["cleanup.policy"] == "compact"


async def test_a_topic_with_fewer_replicas_than_configured_stops_start_up(
    isolated_env: dict[str, str],
) -> None:
    settings = InfraSettings(
        **{k.lower(): v for k, v in isolated_env.items() if k.lower() in InfraSettings.model_fields}
    )
    await ensure_topics(settings)  # replication factor 1, the only one a single broker allows
    expecting_three = settings.model_copy(update={"kafka_replication_factor": 3})
    with pytest.raises(TopicMisconfigured, match=r"has 1 replica.*KAFKA_REPLICATION_FACTOR is 3"):
        await ensure_topics(expecting_three)
