"""What the projector's loop needs from the world, as protocols (cosmicpython's ports).

The loop (consumer.py) depends on these only; shared/adapters/ has the Kafka ones
(`event_source.KafkaEventSource`, `dead_letters.DeadLetterProducer`), writer.py and handover.py
the MongoDB ones, and tests/unit/ in-memory fakes, so the loop's batching, dead-lettering,
retrying and offset handling are tested in milliseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Protocol

from services.projector.batch import BatchResult
from shared.envelope import Envelope

BeforeCommit = Callable[[], Awaitable[None]]


class Partition(Protocol):
    """A partition of a topic (aiokafka's TopicPartition is one); hashable, a dict key."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


class Record(Protocol):
    """A record as fetched (aiokafka's ConsumerRecord is one)."""

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...

    @property
    def offset(self) -> int: ...


Batches = dict[Partition, list[Record]]


class EventSource(Protocol):
    """The event topic as the projector's consumer group member reads it (read_committed)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def fetch(
        self, max_records: int, timeout_ms: int
    ) -> Mapping[Partition, Sequence[Record]]:
        """What arrived, up to `max_records`; waits up to `timeout_ms` for something."""
        ...

    def assignment(self) -> Collection[Partition]: ...

    async def position(self, partition: Partition) -> int:
        """The offset of the next record this member will fetch from the partition."""
        ...

    def last_stable_offset(self, partition: Partition) -> int | None:
        """Where committed records end, as of the last fetch (None before one)."""
        ...

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        """The group's next offsets; raises if Kafka refused them."""
        ...


class DeadLetterSink(Protocol):
    """Where records that are not events go, with the reason and where they came from."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, origin: Partition, record: Record, reason: str) -> None: ...


class ReadModelStore(Protocol):
    """The read models as one unit of work per batch (writer.ReadModelWriter)."""

    async def apply(
        self, envelopes: Sequence[Envelope], before_commit: BeforeCommit | None = None
    ) -> BatchResult:
        """All of the batch or none of it; `before_commit` runs last, inside it."""
        ...


class PauseRequests(Protocol):
    """A rebuild's requests to stand still (handover.PauseSwitch)."""

    async def requested(self) -> str | None: ...

    async def hold(self, token: str, positions: dict[int, int]) -> None: ...
