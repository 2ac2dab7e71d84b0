"""Reading the topic as an outside consumer would: raw records, headers and all."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.adapters import private_api
from shared.domain.decider import State, evolve
from shared.envelope import from_record


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: str
    value: bytes
    headers: dict[str, str]

    @property
    def sequence(self) -> int:
        return int(self.headers["ce_sequence"])


async def read_all(bootstrap: str, topic: str) -> list[Record]:
    """Every committed record of the topic, from offset 0 to the current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        if not partitions:
            await consumer.topics()
            found = await private_api.topic_partitions(consumer, topic)
            partitions = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[Record] = []
        pending = {tp for tp in partitions if end[tp] > 0}
        while pending:
            batch = await asyncio.wait_for(consumer.getmany(*pending, timeout_ms=500), 30)
            for tp, items in batch.items():
                records.extend(
                    Record(
                        tp.partition,
                        r.offset,
                        r.key.decode(),
                        r.value,
                        {k: v.decode() for k, v in r.headers},
                    )
                    for r in items
                )
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        return records
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The consumer group's committed offset per partition of `topic` (absent: none yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def by_product(records: list[Record]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        grouped.setdefault(record.key, []).append(record)
    return grouped


def assert_gapless(records: list[Record]) -> dict[str, list[Record]]:
    """Per product: ce_sequence 1, 2, 3 … without gap or duplicate, all in one partition."""
    products = by_product(records)
    for key, events in products.items():
        assert [e.sequence for e in events] == list(range(1, len(events) + 1)), key
        assert len({e.partition for e in events}) == 1, f"{key} spans partitions"
    return products


def fold(records: list[Record]) -> dict[str, State]:
    """The domain's own fold of raw records, per product (decider `evolve`, not the projector)."""
    states: dict[str, State] = {}
    for key, events in by_product(records).items():
        state: State = None
        for record in events:
            headers = [(k, v.encode()) for k, v in record.headers.items()]
            state = evolve(state, from_record(record.key.encode(), record.value, headers).event)
        states[key] = state
    return states
