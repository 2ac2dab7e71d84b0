"""The infrastructure is the real thing: Apache Kafka in KRaft mode and a MongoDB 6 replica set."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import AsyncMongoClient

from shared.adapters.kafka_log import ensure_topics
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
    assert infra.kafka_version.startswith("Apache Kafka 3.9")
    settings = InfraSettings(
        **{k.lower(): v for k, v in isolated_env.items() if k.lower() in InfraSettings.model_fields}
    )
    await ensure_topics(settings)
    await ensure_topics(settings)  # a second call finds them and changes nothing
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.events_topic, settings.dlq_topic])
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.events_topic)]
        )
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    assert partitions == {settings.events_topic: 6, settings.dlq_topic: 3}
    entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
    assert entries["retention.ms"] == "-1"
