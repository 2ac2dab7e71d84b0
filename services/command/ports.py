"""What the command service layer needs from the outside, and the failures each port reports.

The service layer (planning, restore, the partition writer, the router) depends on these
protocols only; the Kafka and HTTP adapters under services/command/adapters/ implement them,
and the unit tests run the same service layer over in-memory fakes (tests/unit/command/).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from services.command.planning import IssuedCommand
from services.command.write_state import Answer
from shared.envelope import BadRecord, Envelope

# A changelog write: (key = the product id, the encoded state), or (key, None) to forget the key.
StateWrite = tuple[bytes, bytes | None]


class LogUnavailable(Exception):
    """The event log did not take an append.

    `outcome_known` is true when nothing of it can ever become visible (it failed before the
    commit was asked for, or the transaction was aborted). When the commit itself failed, the
    broker may have committed it anyway: only reading the partition again tells.
    """

    def __init__(self, message: str, outcome_known: bool = True) -> None:
        super().__init__(message)
        self.outcome_known = outcome_known


class Fenced(LogUnavailable):
    """A newer owner claimed the partition: this writer may never append to it again."""


class UnexpectedOffset(LogUnavailable):
    """The partition's end was not where its owner left it: something else appended to it.

    The transaction was aborted, so nothing of it is visible; the owner must read the partition
    again before it decides anything more.
    """


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One record of a changelog partition, as read."""

    offset: int
    key: bytes
    value: bytes | None  # None: a tombstone, the key has no state
    through: int | None  # the event offset the partition's state was complete through
    foreign: str | None = None  # why the record is not one of ours, if it is not


class PartitionLog(Protocol):
    """One partition of the event topic with its changelog partition, for its owner.

    Appends are transactions that only the latest claimant can commit: `claim` fences every
    earlier holder of the partition (a crashed or paused owner included) and ends whatever
    transaction it left open. Reads see committed records only.
    """

    @property
    def partition(self) -> int: ...

    async def claim(self) -> None:
        """Become the partition's only writer; raises LogUnavailable if the log is away."""

    def changelog(self) -> AsyncIterator[StateRecord]:
        """The changelog partition's committed records, from its first to its current end."""
        ...

    def events(self, start: int, end: int) -> AsyncIterator[tuple[Envelope | BadRecord, int]]:
        """The event partition's committed records from offset `start` up to `end`."""
        ...

    async def end_offset(self) -> int:
        """The offset the event partition's next record will get."""
        ...

    async def events_at(self, offsets: Sequence[int]) -> dict[int, Envelope | BadRecord]:
        """The committed events at these offsets of the event partition (the ones found)."""
        ...

    async def append(
        self, envelopes: Sequence[Envelope], states: Sequence[StateWrite], first_offset: int
    ) -> None:
        """One transaction: the events, at `first_offset` onward, and the products' new states.

        Raises Fenced, UnexpectedOffset (the events would not land at `first_offset`: aborted)
        or LogUnavailable.
        """

    async def write_states(self, states: Sequence[StateWrite], through: int) -> None:
        """One transaction of changelog records only (a migration or a repair)."""

    async def untouched(self) -> bool:
        """Whether both partitions end where this log last saw them end (after its last append
        or read): then nobody appended since, and state kept from then is still the latest."""
        ...

    async def close(self) -> None: ...


class OwnerMoved(Exception):
    """The instance asked to decide a command does not own its partition (any more, or yet)."""


class OwnerUnreachable(Exception):
    """The owner could not be asked, or did not answer.

    `outcome_known` is false when the command may have reached the owner: it may have been
    decided and appended, and only a retry with the same commandId tells.
    """

    def __init__(self, message: str, outcome_known: bool) -> None:
        super().__init__(message)
        self.outcome_known = outcome_known


class Forwarder(Protocol):
    """Hands a command to the instance that owns its partition and returns that one's answer."""

    async def forward(
        self, owner: str, request: IssuedCommand, authorization: str | None, timeout_s: float
    ) -> Answer:
        """The owner's answer. Raises what the owner raised (relayed as a RelayedError with its
        code and extensions), OwnerMoved, or OwnerUnreachable."""
        ...
