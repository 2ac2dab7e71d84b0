"""The event log on Kafka: a fenced transactional appender and a read_committed reader.

Every append is one Kafka transaction with a fixed transactional id. Starting a producer with
that id bumps its epoch, which aborts whatever an older instance left open and makes every later
write of that instance fail with ProducerFenced: exactly one process can write at a time, and
it learns of a rival by being refused rather than by corrupting the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, ProducerFenced, TopicAlreadyExistsError
from aiokafka.producer import sender as aiokafka_sender

from shared.envelope import BadRecord, Envelope, Position, from_record, to_record
from shared.settings import InfraSettings

log = logging.getLogger(__name__)
APPEND_TIMEOUT_S = 4.0

# Right after a commit the broker is still writing that transaction's markers, and the next
# transaction's first AddPartitionsToTxn is refused with CONCURRENT_TRANSACTIONS until it is
# done, about a millisecond on a local broker. aiokafka then sleeps a fixed 20 ms (Java's
# figure) before asking again. Retrying after 2 ms costs a few tiny requests instead; measured
# (bench/RESULTS.md): mutation p50 at a steady 200/s 26 ms -> 8 ms, p99 at concurrency 1
# 23 ms -> 5-12 ms, throughput +12-30 % at concurrency 1 and +7-13 % at 32.
aiokafka_sender.BACKOFF_OVERRIDE = 0.002


class LogUnavailable(Exception):
    """Kafka did not take the append.

    `outcome_known` is true when the failure came before the commit was asked for: then the
    transaction can only end aborted, and nothing of it will ever be visible. When the commit
    itself failed, the broker may have committed it anyway; only reading the log tells.
    """

    def __init__(self, message: str, outcome_known: bool = True) -> None:
        super().__init__(message)
        self.outcome_known = outcome_known


class Fenced(LogUnavailable):
    """A newer instance holds the transactional id; this one may never write again."""


class EventAppender:
    def __init__(self, settings: InfraSettings, transactional_id: str) -> None:
        self._settings = settings
        self._transactional_id = transactional_id
        self._producer: Any = None

    async def start(self) -> None:
        """Connect and claim the transactional id, fencing any older holder of it."""
        # aiokafka clients bind to the running loop, so they are made here and not in __init__.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            transactional_id=self._transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=0,
            # Shorter than the command timeout, so a Kafka outage ends an append with a definite
            # answer before the client's own deadline.
            request_timeout_ms=5_000,
            client_id=f"{self._transactional_id}-producer",
        )
        await self._producer.start()
        # aiokafka obtains the producer id lazily; wait for it so that fencing happens here,
        # before the caller folds the log, and not on the first append.
        await asyncio.wait_for(self._producer._txn_manager.wait_for_pid(), 30)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def append(self, envelopes: Sequence[Envelope]) -> list[Position]:
        """Append atomically: all of them become visible together, or none does."""
        producer = self._producer
        committing = False
        try:
            await producer.begin_transaction()
            futures = []
            for envelope in envelopes:
                key, value, headers = to_record(envelope)
                futures.append(
                    await producer.send(
                        self._settings.events_topic, value, key=key, headers=headers
                    )
                )
            # aiokafka keeps a batch waiting for an unreachable broker for a long time; our own
            # deadline turns an outage into a definite "not written" well within the client's.
            metadata = await asyncio.wait_for(asyncio.gather(*futures), APPEND_TIMEOUT_S)
            committing = True
            await asyncio.wait_for(producer.commit_transaction(), APPEND_TIMEOUT_S)
        except ProducerFenced as exc:
            raise Fenced("another command-service instance took over the event log") from exc
        except (TimeoutError, KafkaError) as exc:
            # No abort here: with Kafka gone it would only hang. The caller replaces this
            # producer, and claiming the transactional id again aborts the open transaction.
            raise LogUnavailable(f"Kafka refused the append: {exc}", not committing) from exc
        return [Position(m.partition, m.offset) for m in metadata]

    async def reachable(self) -> bool:
        if self._producer is None:
            return False
        try:
            return bool(await asyncio.wait_for(self._producer.client.force_metadata_update(), 2))
        except (KafkaError, TimeoutError):
            return False


class EventReader:
    """Reads every partition of the topic with read_committed, from offset 0 onward."""

    def __init__(self, settings: InfraSettings, client_id: str) -> None:
        self._settings = settings
        self._topic = settings.events_topic
        self._client_id = client_id
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
            cluster = await self._consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(self._topic) or set()
            if partitions:
                break
            await asyncio.sleep(0.2)
        else:
            raise LogUnavailable(f"topic {self._topic!r} does not exist")
        self._partitions = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def catch_up(self) -> AsyncIterator[tuple[Envelope | BadRecord, Position]]:
        """Everything committed up to now that this reader has not yet returned."""
        end = await self._consumer.end_offsets(self._partitions)
        pending = {tp for tp in self._partitions if await self._consumer.position(tp) < end[tp]}
        while pending:
            batches = await self._consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    yield _parse(record), Position(tp.partition, record.offset)
            for tp in list(pending):
                if await self._consumer.position(tp) >= end[tp]:
                    pending.discard(tp)


def _parse(record: Any) -> Envelope | BadRecord:
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
    raise LogUnavailable(f"topics {names} did not appear in the cluster's metadata")


if __name__ == "__main__":
    asyncio.run(ensure_topics(InfraSettings()))
