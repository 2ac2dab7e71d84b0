"""The dead-letter topic (`<EVENTS_TOPIC>.dlq`): records that are not events, with the reason.

A dead letter is the refused record as it was — key, value and headers — plus four headers:
`dlq_reason`, and `dlq_original_topic` / `dlq_original_partition` / `dlq_original_offset`, where
it sits in the event log. The projector writes them (`DeadLetterProducer.send`); the re-drive
(services/projector/redrive.py) reads them all back (`read_dead_letters`) and writes a record
that failed again with a new reason once more (`DeadLetterProducer.resend`), same origin, same
dead-letter partition, so the copy read last of an origin is the one that speaks for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.settings import InfraSettings

REASON = "dlq_reason"
ORIGINAL_TOPIC = "dlq_original_topic"
ORIGINAL_PARTITION = "dlq_original_partition"
ORIGINAL_OFFSET = "dlq_original_offset"
_OURS = (REASON, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET)
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record sits in the event log."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int  # in the dead-letter topic
    offset: int
    time: datetime  # when it was dead-lettered (the record's timestamp)
    key: bytes | None
    value: bytes | None
    headers: Headers  # the refused record's own, without the dlq_* ones
    reason: str
    origin: Origin  # the dead letter's own place, for a record without dlq_original_* headers

    def sort_key(self) -> tuple[datetime, int, int]:
        return self.time, self.partition, self.offset


class DeadLetterProducer:
    def __init__(self, settings: InfraSettings) -> None:
        self._settings = settings
        self._producer: Any = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, origin: Any, record: Any, reason: str) -> None:
        """Dead-letter `record`, fetched from partition `origin` of the event topic."""
        where = Origin(origin.topic, origin.partition, record.offset)
        headers = [*(record.headers or ()), *_headers(reason, where)]
        await self._producer.send_and_wait(
            self._settings.dlq_topic, record.value, key=record.key, headers=headers
        )

    async def resend(self, letter: DeadLetter, reason: str) -> None:
        """The dead letter once more, with a new reason, where the one it replaces is."""
        await self._producer.send_and_wait(
            self._settings.dlq_topic,
            letter.value,
            key=letter.key,
            headers=[*letter.headers, *_headers(reason, letter.origin)],
            partition=letter.partition,
        )


def _headers(reason: str, origin: Origin) -> Headers:
    return [
        (REASON, reason.encode()),
        (ORIGINAL_TOPIC, origin.topic.encode()),
        (ORIGINAL_PARTITION, str(origin.partition).encode()),
        (ORIGINAL_OFFSET, str(origin.offset).encode()),
    ]


async def read_dead_letters(settings: InfraSettings) -> list[DeadLetter]:
    """Every record of the dead-letter topic, up to its end as it is now (none if it is missing)."""
    topic = settings.dlq_topic
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    numbers = sorted(
        p["partition"] for t in described if t["topic"] == topic for p in t["partitions"]
    )
    if not numbers:
        return []
    partitions = [TopicPartition(topic, p) for p in numbers]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        isolation_level="read_committed",
        enable_auto_commit=False,
        client_id="catalog-dead-letters",
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        pending = {tp for tp in partitions if end[tp] > 0}
        while pending:
            batches = await asyncio.wait_for(consumer.getmany(*pending, timeout_ms=500), 30)
            for tp, records in batches.items():
                letters.extend(_letter(tp.partition, record) for record in records)
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        return letters
    finally:
        await consumer.stop()


def _letter(partition: int, record: Any) -> DeadLetter:
    ours: dict[str, str] = {}
    own: Headers = []
    for name, value in record.headers or ():
        if name in _OURS:
            ours[name] = value.decode(errors="replace")
        else:
            own.append((name, value))
    try:
        origin = Origin(
            ours[ORIGINAL_TOPIC], int(ours[ORIGINAL_PARTITION]), int(ours[ORIGINAL_OFFSET])
        )
    except (KeyError, ValueError):  # not written by us: the dead letter stands for itself
        origin = Origin(record.topic, partition, record.offset)
    return DeadLetter(
        partition=partition,
        offset=record.offset,
        time=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        value=record.value,
        headers=own,
        reason=ours.get(REASON, ""),
        origin=origin,
    )


def latest_by_origin(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """One dead letter per origin, the last one written, in event-log order."""
    latest: dict[Origin, DeadLetter] = {}
    for letter in sorted(letters, key=DeadLetter.sort_key):
        latest[letter.origin] = letter
    return sorted(
        latest.values(), key=lambda d: (d.origin.topic, d.origin.partition, d.origin.offset)
    )
