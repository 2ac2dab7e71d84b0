"""In-memory stand-ins for the command service's ports, with Kafka's semantics where they matter.

`FakePartition` is one event partition and its changelog partition as the broker keeps them:
offsets, one commit marker after each transaction, an epoch that every claim bumps (so an older
claimant is fenced), committed records only for readers. `FakePartitionLog` is one claimant's
handle on it, and can be told to fail its next append the ways Kafka can fail one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from services.command.planning import IssuedCommand
from services.command.ports import (
    Fenced,
    LogUnavailable,
    OwnerMoved,
    OwnerUnreachable,
    StateRecord,
    StateWrite,
    UnexpectedOffset,
)
from services.command.write_state import Answer
from shared.envelope import BadRecord, Envelope

MARKER = object()  # a transaction's commit or abort marker: takes an offset, is never read


@dataclass
class FakePartition:
    partition: int = 0
    events: list[object] = field(default_factory=list)  # Envelope | BadRecord | MARKER
    changelog: list[StateRecord | object] = field(default_factory=list)
    epoch: int = 0

    def events_end(self) -> int:
        return len(self.events)

    def foreign_event(self, item: Envelope | BadRecord) -> None:
        """Something that is not the owner appends to the event partition."""
        self.events += [item, MARKER]

    def foreign_state(self, key: bytes, value: bytes | None, reason: str | None) -> None:
        offset = len(self.changelog)
        self.changelog += [StateRecord(offset, key, value, None, reason), MARKER]


class FakePartitionLog:
    def __init__(self, partition: FakePartition) -> None:
        self._p = partition
        self._epoch = -1
        self._ends: tuple[int, int] | None = None
        self.fail_next: str | None = None  # "before_commit", "commit_lost", "commit_landed"
        self.appends = 0
        self.reads = 0
        self.closed = False

    @property
    def partition(self) -> int:
        return self._p.partition

    async def claim(self) -> None:
        if self.fail_next == "claim":
            self.fail_next = None
            raise LogUnavailable("Kafka is away")
        self._p.epoch += 1
        self._epoch = self._p.epoch

    async def changelog(self) -> AsyncIterator[StateRecord]:
        for record in list(self._p.changelog):
            if isinstance(record, StateRecord):
                yield record
        self._ends = (self._ends or (0, 0))[0], len(self._p.changelog)

    async def events(self, start: int, end: int) -> AsyncIterator[tuple[Envelope | BadRecord, int]]:
        for offset in range(start, min(end, len(self._p.events))):
            item = self._p.events[offset]
            if item is not MARKER:
                yield item, offset  # type: ignore[misc]

    async def events_at(self, offsets: Sequence[int]) -> dict[int, Envelope | BadRecord]:
        self.reads += 1
        return {
            o: self._p.events[o]  # type: ignore[misc]
            for o in offsets
            if o < len(self._p.events) and self._p.events[o] is not MARKER
        }

    async def end_offset(self) -> int:
        self._ends = len(self._p.events), len(self._p.changelog)
        return len(self._p.events)

    async def untouched(self) -> bool:
        return self._ends == (len(self._p.events), len(self._p.changelog))

    async def append(
        self, envelopes: Sequence[Envelope], states: Sequence[StateWrite], first_offset: int
    ) -> None:
        self._check_epoch()
        if first_offset != len(self._p.events):
            self._p.events += [MARKER] * (len(envelopes) + 1)  # aborted: offsets used anyway
            self._ends = None
            raise UnexpectedOffset(f"expected {first_offset}, end is {len(self._p.events)}")
        failure, self.fail_next = self.fail_next, None
        if failure == "before_commit":
            self._ends = None
            raise LogUnavailable("send timed out", outcome_known=True)
        through = first_offset + len(envelopes) - 1
        if failure != "commit_lost":
            self._commit(envelopes, states, through)
        if failure in ("commit_lost", "commit_landed"):
            self._ends = None
            raise LogUnavailable("commit timed out", outcome_known=False)
        self.appends += 1
        self._ends = len(self._p.events), len(self._p.changelog)

    async def write_states(self, states: Sequence[StateWrite], through: int) -> None:
        self._check_epoch()
        self._commit((), states, through)

    def _commit(
        self, envelopes: Sequence[Envelope], states: Sequence[StateWrite], through: int
    ) -> None:
        if envelopes:
            self._p.events += [*envelopes, MARKER]
        if states:
            for key, value in states:
                offset = len(self._p.changelog)
                self._p.changelog.append(StateRecord(offset, key, value, through))
            self._p.changelog.append(MARKER)

    def _check_epoch(self) -> None:
        if self._epoch != self._p.epoch:
            raise Fenced("a newer owner claimed the partition")

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeForwarder:
    """Forwards to writers of other "instances" held in memory, keyed by address."""

    instances: dict[str, object] = field(default_factory=dict)
    unreachable: dict[str, bool] = field(default_factory=dict)  # address -> outcome known
    forwarded: list[tuple[str, IssuedCommand]] = field(default_factory=list)

    async def forward(
        self, owner: str, request: IssuedCommand, authorization: str | None, timeout_s: float
    ) -> Answer:
        self.forwarded.append((owner, request))
        if owner in self.unreachable:
            raise OwnerUnreachable(owner, outcome_known=self.unreachable[owner])
        router = self.instances.get(owner)
        if router is None:
            raise OwnerMoved(owner)
        answer: Answer = await router.decide_here(request)  # type: ignore[attr-defined]
        return answer
