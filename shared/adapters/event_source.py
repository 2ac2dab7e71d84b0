"""The event topic as a member of the projector's consumer group reads it.

read_committed (records of aborted transactions are never seen), offsets committed by the
caller only (after its read-model transaction), static membership (a restarted projector takes
its partitions back at once) and reading from the start of the log when the group has no
committed offset yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from shared.settings import ProjectorSettings


class _OnAssigned(ConsumerRebalanceListener):  # type: ignore[misc]
    """Calls `callback` after each rebalance that gave this member partitions, before it
    fetches from them."""

    def __init__(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._callback = callback

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if assigned:
            await self._callback()


class KafkaEventSource:
    """`on_assigned` is awaited after each rebalance that gave this member partitions, before
    it fetches from them."""

    def __init__(
        self,
        settings: ProjectorSettings,
        on_assigned: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._settings = settings
        self._on_assigned = on_assigned
        self._consumer: Any = None

    async def start(self) -> None:
        # aiokafka clients bind to the running loop, so they are made here and not in __init__.
        s = self._settings
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=s.projector_group_id,
            group_instance_id=s.projector_instance_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        listener = _OnAssigned(self._on_assigned) if self._on_assigned else None
        self._consumer.subscribe([s.events_topic], listener=listener)
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def fetch(self, max_records: int, timeout_ms: int) -> Mapping[Any, Sequence[Any]]:
        batches: Mapping[Any, Sequence[Any]] = await self._consumer.getmany(
            timeout_ms=timeout_ms, max_records=max_records
        )
        return batches

    def assignment(self) -> Collection[Any]:
        assigned: Collection[Any] = self._consumer.assignment()
        return assigned

    async def position(self, partition: Any) -> int:
        return int(await self._consumer.position(partition))

    def last_stable_offset(self, partition: Any) -> int | None:
        end = self._consumer.last_stable_offset(partition)
        return None if end is None else int(end)

    async def commit(self, offsets: Mapping[Any, int]) -> None:
        await self._consumer.commit(dict(offsets))
