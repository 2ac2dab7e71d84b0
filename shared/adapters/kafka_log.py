"""The event log on Kafka, for everyone but its writers: a read_committed reader and the topics.

The command service's partition owners append (services/command/adapters/kafka_partition.py);
this module reads the whole topic (the rebuild, the bench) and creates and checks the topics
every service relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.adapters import private_api
from shared.envelope import BadRecord, Envelope, Position, from_record
from shared.settings import InfraSettings

log = logging.getLogger(__name__)


class TopicMissing(Exception):
    """A topic the stack needs is not in the cluster."""


class EventReader:
    """Reads every partition of the topic (or the `only` ones) with read_committed, from
    offset 0 onward."""

    def __init__(
        self, settings: InfraSettings, client_id: str, only: Collection[int] | None = None
    ) -> None:
        self._settings = settings
        self._topic = settings.events_topic
        self._client_id = client_id
        self._only = None if only is None else set(only)
        self._consumer: Any = None
        self._partitions: list[TopicPartition] = []

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=self._client_id,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await self._consumer.start()
        partitions: set[int] = set()
        for _ in range(50):  # a topic created a moment ago takes a while to show in metadata
            partitions = await private_api.topic_partitions(self._consumer, self._topic)
            if partitions:
                break
            await asyncio.sleep(0.2)
        else:
            raise TopicMissing(f"topic {self._topic!r} does not exist")
        if self._only is not None:
            partitions &= self._only
        self._partitions = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    @property
    def partitions(self) -> list[int]:
        """The partitions this reader reads (after `start`)."""
        return [tp.partition for tp in self._partitions]

    async def positions(self) -> dict[int, int]:
        """The next offset this reader reads in each of its partitions."""
        return {tp.partition: await self._consumer.position(tp) for tp in self._partitions}

    def seek(self, positions: Mapping[int, int]) -> None:
        """Go on from these offsets (partitions not named keep their position): after another
        reader, such as a rebuild's worker process, has read up to them."""
        for tp in self._partitions:
            if tp.partition in positions:
                self._consumer.seek(tp, positions[tp.partition])

    async def catch_up(self) -> AsyncIterator[tuple[Envelope | BadRecord, Position]]:
        """Everything committed up to now that this reader has not yet returned."""
        end = await self._consumer.end_offsets(self._partitions)
        pending = {tp for tp in self._partitions if await self._consumer.position(tp) < end[tp]}
        while pending:
            batches = await self._consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    yield parse_record(record), Position(tp.partition, record.offset)
            for tp in list(pending):
                if await self._consumer.position(tp) >= end[tp]:
                    pending.discard(tp)


def parse_record(record: Any) -> Envelope | BadRecord:
    """An aiokafka record as our event, or the BadRecord saying why it is not one."""
    try:
        return from_record(record.key, record.value, record.headers)
    except BadRecord as exc:
        return exc


class TopicMisconfigured(Exception):
    """An existing topic does not have the shape the services rely on; the message says what to do."""


# The changelog keeps one record per product that matters; small segments let the log cleaner
# compact it soon after they fill, so restoring a partition reads roughly one record per
# product however long the history is (docs/scaling.md).
CHANGELOG_SEGMENT_BYTES = 16 * 1024 * 1024


def wanted_topics(settings: InfraSettings) -> list[NewTopic]:
    """The topics of the stack, as the services create them when they are missing."""
    replicas = settings.kafka_replication_factor
    durable = {"min.insync.replicas": str(settings.kafka_min_insync_replicas)}
    forever = {**durable, "retention.ms": "-1", "retention.bytes": "-1"}
    compacted = {
        **durable,
        "cleanup.policy": "compact",
        "segment.bytes": str(CHANGELOG_SEGMENT_BYTES),
    }
    partitions = settings.events_partitions
    return [
        NewTopic(settings.events_topic, partitions, replicas, topic_configs=forever),
        NewTopic(settings.dlq_topic, 3, replicas, topic_configs=forever),
        NewTopic(settings.changelog_topic, partitions, replicas, topic_configs=compacted),
    ]


async def ensure_topics(settings: InfraSettings) -> dict[str, int]:
    """Create the stack's topics if missing, then check the shape of all of them.

    Returns each topic's partition count. Raises TopicMisconfigured when a topic has fewer
    replicas than `KAFKA_REPLICATION_FACTOR` or the changelog is not co-partitioned with the
    event topic: a service must not start on a log that is less durable than configured, and
    the write side's ownership pairs partition p of both topics.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        wanted = wanted_topics(settings)
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was faster
                await admin.create_topics(missing)
        described = await _describe(admin, [topic.name for topic in wanted])
    finally:
        await admin.close()
    partitions = {name: len(replicas) for name, replicas in described.items()}
    for name, replicas in described.items():
        fewest = min(replicas.values())
        if fewest < settings.kafka_replication_factor:
            raise TopicMisconfigured(
                f"topic {name!r} has {fewest} replica(s) per partition but "
                f"KAFKA_REPLICATION_FACTOR is {settings.kafka_replication_factor}: raise its "
                "replication with kafka-reassign-partitions.sh (or, on a fresh stack, delete "
                "it and let the services create it again)"
            )
    events, changelog = partitions[settings.events_topic], partitions[settings.changelog_topic]
    if events != changelog:
        raise TopicMisconfigured(
            f"the changelog {settings.changelog_topic!r} has {changelog} partitions but the "
            f"event topic has {events}; they must match (docs/scaling.md says how to change "
            "the partition count)"
        )
    return partitions


async def _describe(admin: Any, names: list[str]) -> dict[str, dict[int, int]]:
    """Replicas per partition of each topic; waits for a topic created a moment ago to show."""
    for _ in range(50):
        described = await admin.describe_topics(names)
        found = {
            t["topic"]: {p["partition"]: len(p["replicas"]) for p in t["partitions"]}
            for t in described
            if t["partitions"]
        }
        if len(found) == len(names):
            return found
        await asyncio.sleep(0.2)
    raise TopicMissing(f"topics {names} did not appear in the cluster's metadata")


if __name__ == "__main__":
    asyncio.run(ensure_topics(InfraSettings()))
