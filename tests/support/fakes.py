"""In-memory fakes of the projector's ports (services/projector/ports.py), cosmicpython style:
the real loop and the real batch fold run over them, in milliseconds, with no Kafka or MongoDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from services.projector.batch import BatchResult, fold
from services.projector.ports import BeforeCommit
from shared.envelope import Envelope, to_record
from shared.read_model.documents import HistoryDocument, ProductDocument


@dataclass(frozen=True)
class FakeRecord:
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    offset: int


class FakeSource:
    """A topic's partitions as lists, one member holding all of them; records commit offsets."""

    def __init__(self, topic: str = "events", partitions: int = 2) -> None:
        self.topic = topic
        self.log: dict[TopicPartition, list[FakeRecord]] = {
            TopicPartition(topic, p): [] for p in range(partitions)
        }
        self._fetched = dict.fromkeys(self.log, 0)
        self.committed: dict[TopicPartition, int] = {}
        self.commits: list[dict[TopicPartition, int]] = []
        self.refuse_commits = False
        self._arrived = asyncio.Event()
        self.started = self.stopped = False

    def append(
        self, partition: int, key: bytes | None, value: bytes | None, headers: Any
    ) -> FakeRecord:
        records = self.log[TopicPartition(self.topic, partition)]
        record = FakeRecord(key, value, list(headers), len(records))
        records.append(record)
        self._arrived.set()
        return record

    def append_event(self, envelope: Envelope, partition: int = 0) -> FakeRecord:
        return self.append(partition, *to_record(envelope))

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def fetch(
        self, max_records: int, timeout_ms: int
    ) -> Mapping[TopicPartition, Sequence[FakeRecord]]:
        if not self._unread():
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout_ms / 1000)
            except TimeoutError:
                return {}
        taken: dict[TopicPartition, list[FakeRecord]] = {}
        for tp, records in self.log.items():
            start = self._fetched[tp]
            chunk = records[start : start + max_records - sum(map(len, taken.values()))]
            if chunk:
                taken[tp] = chunk
                self._fetched[tp] += len(chunk)
        return taken

    def fetched(self, partition: int) -> int:
        return self._fetched[TopicPartition(self.topic, partition)]

    def _unread(self) -> int:
        return sum(len(records) - self._fetched[tp] for tp, records in self.log.items())

    def assignment(self) -> Collection[TopicPartition]:
        return set(self.log)

    async def position(self, partition: TopicPartition) -> int:
        return self._fetched[partition]

    def last_stable_offset(self, partition: TopicPartition) -> int | None:
        return len(self.log[partition])

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        await asyncio.sleep(0)
        if self.refuse_commits:
            raise RuntimeError("the group coordinator refused the commit")
        self.commits.append(dict(offsets))
        self.committed.update(offsets)


class FakeDeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, FakeRecord, str]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, origin: Any, record: Any, reason: str) -> None:
        self.sent.append((origin, record, reason))


@dataclass
class FakeStore:
    """The read models as dicts, changed a batch at a time by the real fold (batch.fold), or not
    at all: the batch is kept only if `before_commit` returned, like a transaction."""

    products: dict[str, ProductDocument] = field(default_factory=dict)
    history: dict[str, HistoryDocument] = field(default_factory=dict)
    failures_to_come: int = 0  # the next calls fail as an unreachable MongoDB would
    calls: int = 0

    async def apply(
        self, envelopes: Sequence[Envelope], before_commit: BeforeCommit | None = None
    ) -> BatchResult:
        self.calls += 1
        await asyncio.sleep(0)
        if self.failures_to_come:
            self.failures_to_come -= 1
            raise ConnectionError("MongoDB is unreachable")
        ids = {e.product_id for e in envelopes}
        batch = fold({i: d for i, d in self.products.items() if i in ids}, envelopes)
        if before_commit is not None:
            await before_commit()
        self.products.update(batch.after)
        self.history.update({doc["_id"]: doc for doc in batch.history})
        return batch.result


class FakePause:
    def __init__(self) -> None:
        self.token: str | None = None
        self.held: list[tuple[str, dict[int, int]]] = []
        self.release = asyncio.Event()

    async def requested(self) -> str | None:
        return self.token

    async def hold(self, token: str, positions: dict[int, int]) -> None:
        self.held.append((token, positions))
        await self.release.wait()
        self.token = None
