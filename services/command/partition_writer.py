"""The owner of one partition: its write-side state, its queue and its group-commit loop.

Commands of the partition are queued and handled by one loop in batches ("group commit"): the
loop plans the batch against the partition's state (planning.py), appends its events and the
changed products' states in one Kafka transaction and only then answers. One loop per
partition serializes the commands of a product without locks; one transaction per batch shares
the commit's cost among everyone waiting. A command answers success only once its event is
committed, and an error only when nothing of it was written.

A writer lives while the group assigns its partition to this instance. Before it decides
anything it claims the partition (fencing every earlier owner, paused zombies included) and
restores the state from the changelog (restore.py); commands that arrive meanwhile wait. A
rebalance pauses it (the batch in flight finishes, nothing new is taken); if the partition is
assigned here again, the writer claims it again and keeps its state when neither partition
changed in between, and restores otherwise. If it is assigned elsewhere, the writer closes and
its queued commands are routed to the new owner.

What a failed append means for the commands in it:
- `Fenced`: a newer owner claimed the partition; nothing was written; the writer closes and the
  commands are routed again (OwnerMoved), to whoever the group says owns the partition now;
- `UnexpectedOffset`: something else appended to the partition; nothing was written; the writer
  restores the partition and the commands are routed again;
- `LogUnavailable` before the commit: nothing was written; the commands fail with
  SERVICE_UNAVAILABLE (retriable) and the writer claims and restores the partition again;
- `LogUnavailable` at the commit: the outcome is unknown, so the writer claims the partition
  again (which ends the transaction one way or the other) and restores it: each command is
  answered from the restored state if its event landed, and as "not written" if not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum

from prometheus_client import Histogram

from services.command.planning import IssuedCommand, Outcome, Plan, plan
from services.command.ports import (
    Fenced,
    LogUnavailable,
    OwnerMoved,
    PartitionLog,
    UnexpectedOffset,
)
from services.command.restore import Restored, restore
from services.command.write_state import Answer, Remembered, WriteState, decode, encode
from shared.adapters.tracing import SendSpans
from shared.backoff import Backoff
from shared.envelope import BadRecord, Envelope
from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)

BATCH_SIZE = Histogram(
    "catalog_command_batch_size",
    "Commands per append transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
APPEND_SECONDS = Histogram("catalog_append_seconds", "Time to commit one append transaction")
RESTORE_SECONDS = Histogram(
    "catalog_partition_restore_seconds",
    "Time to claim a partition and restore its state",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)


class Phase(Enum):
    CLAIMING = "claiming"  # claiming the partition and restoring (or checking) its state
    READY = "ready"
    PAUSED = "paused"  # a rebalance is under way; the partition may come back here or not
    CLOSED = "closed"  # no longer owned here


@dataclass(eq=False)
class _Pending:
    request: IssuedCommand
    future: asyncio.Future[Answer] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    taken: bool = False


class PartitionWriter:
    def __init__(
        self,
        log_: PartitionLog,
        max_batch: int,
        horizon: int,
        on_fenced: Callable[[int], None] = lambda _: None,
        spans: SendSpans | None = None,
    ) -> None:
        self.partition = log_.partition
        self._spans = spans
        self._log = log_
        self._max_batch = max_batch
        self._horizon = horizon
        self._on_fenced = on_fenced
        self._pending: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._states: dict[str, bytes] = {}
        self._next_offset = 0
        self._keep_state = False  # after a pause: keep the state if the partition is untouched
        self._task: asyncio.Task[None] | None = None
        self.phase = Phase.CLAIMING
        self.restored: Restored | None = None

    @property
    def ready(self) -> bool:
        return self.phase is Phase.READY

    @property
    def closed(self) -> bool:
        return self.phase is Phase.CLOSED

    def start(self) -> None:
        """Claim and restore the partition, then handle its commands, in a task of its own."""
        self._task = asyncio.create_task(self._run(), name=f"partition-{self.partition}")

    async def pause(self, grace_s: float) -> None:
        """Take nothing new; wait (up to `grace_s`) for the batch in flight to be answered."""
        if self.phase is Phase.CLOSED:
            return
        self.phase = Phase.PAUSED
        self._wakeup.set()
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
        except TimeoutError:
            log.warning("partition %d: the batch in flight outlived the pause", self.partition)

    def resume(self) -> None:
        """The partition is assigned here again: claim it again, keeping the state if nobody
        touched the partition meanwhile."""
        if self.phase is Phase.PAUSED:
            self._keep_state = True
            self.phase = Phase.CLAIMING
            self._wakeup.set()

    async def close(self, grace_s: float) -> None:
        """Stop owning the partition: finish the batch in flight (up to `grace_s`), then let
        every queued command be routed again, to whoever owns the partition next."""
        self.phase = Phase.CLOSED
        self._wakeup.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(asyncio.shield(task), grace_s)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._release(OwnerMoved(f"partition {self.partition} is no longer owned here"))
        await self._log.close()

    async def submit(self, request: IssuedCommand, timeout_s: float) -> Answer:
        """The answer to a command of this partition.

        Raises DomainError (refused, nothing written), ServiceUnavailable, or OwnerMoved (not
        decided here, nothing written: route it again).
        """
        if self.phase is Phase.CLOSED:
            raise OwnerMoved(f"partition {self.partition} is no longer owned here")
        pending = _Pending(request)
        self._pending.append(pending)
        self._wakeup.set()
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), timeout_s)
        except TimeoutError:
            if not pending.taken:
                pending.taken = True  # the loop skips it: it will never be written
                raise ServiceUnavailable(
                    "the event log is not accepting writes; nothing was written. Retry"
                ) from None
            raise ServiceUnavailable(
                "the append did not finish in time; its outcome is unknown. "
                "Retry with the same commandId to learn it",
                commandId=request.command.command_id,
            ) from None

    async def _run(self) -> None:
        while self.phase is not Phase.CLOSED:
            if self.phase is Phase.CLAIMING:
                await self._claim()
            elif self.phase is Phase.READY and self._pending:
                batch = self._take()
                if batch:
                    self._idle.clear()
                    try:
                        await self._process(batch)
                    finally:
                        self._idle.set()
            else:
                self._wakeup.clear()
                await self._wakeup.wait()

    async def _claim(self) -> None:
        """Claim the partition, then restore its state (or keep it, after a pause, if nobody
        touched the partition); retried while Kafka is away."""
        started = time.perf_counter()
        backoff = Backoff(first_s=0.2)
        while self.phase is Phase.CLAIMING:
            try:
                await self._log.claim()
                if self._keep_state and await self._log.untouched():
                    log.info("partition %d: claimed again, state kept", self.partition)
                else:
                    self.restored = await restore(self._log, self._horizon)
                    self._states = self.restored.states
                    self._next_offset = self.restored.next_offset
                    log.info(
                        "partition %d ready: %d products from %d changelog records, "
                        "%d events folded",
                        self.partition,
                        len(self._states),
                        self.restored.changelog_records,
                        self.restored.folded,
                    )
            except LogUnavailable as exc:
                log.warning(
                    "partition %d: cannot claim and restore yet (%s); retrying in %.1fs",
                    self.partition,
                    exc,
                    backoff.delay,
                )
                await backoff.wait()
                continue
            self._keep_state = False
            if self.phase is Phase.CLAIMING:
                self.phase = Phase.READY
                RESTORE_SECONDS.observe(time.perf_counter() - started)
            return

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        while self._pending and len(batch) < self._max_batch:
            pending = self._pending.popleft()
            if not pending.taken:
                pending.taken = True
                batch.append(pending)
        return batch

    def _state_of(self, product_id: str) -> WriteState | None:
        encoded = self._states.get(product_id)
        return decode(product_id, encoded) if encoded is not None else None

    async def _process(self, batch: list[_Pending]) -> None:
        decided = plan(
            [p.request for p in batch],
            self._state_of,
            self.partition,
            self._next_offset,
            self._horizon,
        )
        outcomes: list[Outcome | Exception] | None = list(decided.outcomes)
        if decided.envelopes:
            sending = None
            if self._spans is not None:
                # Each event is sent in a span of its command's trace and carries that span's
                # context instead of the command's (the plan is pure; spans are made here).
                sending = self._spans.start(self.partition, decided.envelopes, decided.first_offset)
                decided = replace(decided, envelopes=sending.envelopes)
            outcomes = None
            try:
                outcomes = await self._append(decided, batch)
            finally:
                if sending is not None:
                    sending.end(None if outcomes is not None else "not committed, or unknown")
        if outcomes is not None:
            await self._answer(batch, outcomes)

    async def _answer(self, batch: list[_Pending], outcomes: list[Outcome | Exception]) -> None:
        """Settle each command; a retry's first event is read back for its id (and to confirm
        the event is the command's: if not, the command goes back in the queue, to be decided)."""
        remembered = [o.position.offset for o in outcomes if isinstance(o, Remembered)]
        found: dict[int, Envelope | BadRecord] = {}
        if remembered:
            try:
                found = await self._log.events_at(remembered)
            except LogUnavailable as exc:
                log.warning("partition %d: cannot read retried events: %s", self.partition, exc)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Remembered):
                event = found.get(outcome.position.offset)
                if not found:
                    outcome = ServiceUnavailable(
                        "this is a retry of a command that was written, and its answer cannot "
                        "be read right now. Retry with the same commandId",
                        commandId=outcome.command_id,
                    )
                elif _is_event_of(event, outcome):
                    assert isinstance(event, Envelope)
                    outcome = Answer(
                        outcome.product_id, outcome.version, event.event_id, outcome.position
                    )
                else:  # another command's event with the same fingerprint: decide this one
                    pending.request = replace(pending.request, replayable=False)
                    pending.taken = False
                    self._pending.appendleft(pending)
                    self._wakeup.set()
                    continue
            _settle(pending, outcome)

    async def _append(
        self, decided: Plan, batch: list[_Pending]
    ) -> list[Outcome | Exception] | None:
        """Append the plan; the outcomes to answer, or None when the batch was answered here."""
        BATCH_SIZE.observe(len(batch))
        started = time.perf_counter()
        encoded = {pid: encode(state) for pid, state in decided.states.items()}
        try:
            await self._log.append(
                decided.envelopes,
                [(pid.encode(), value) for pid, value in encoded.items()],
                decided.first_offset,
            )
        except Fenced:
            log.error("partition %d: fenced, a newer owner claimed it", self.partition)
            self.phase = Phase.CLOSED
            moved = OwnerMoved(f"partition {self.partition} was claimed by a newer owner")
            for pending in batch:
                _settle(pending, moved)
            self._release(moved)
            self._on_fenced(self.partition)
            return None
        except UnexpectedOffset as exc:
            log.error("partition %d: %s; restoring it again", self.partition, exc)
            for pending in batch:
                _settle(pending, OwnerMoved(f"partition {self.partition} is being restored"))
            await self._reclaim()
            return None
        except LogUnavailable as exc:
            if exc.outcome_known:
                log.warning("partition %d: append failed, nothing written: %s", self.partition, exc)
                error = ServiceUnavailable(
                    "the event log is unreachable; nothing was written. Retry"
                )
                for pending in batch:
                    _settle(pending, error)
                await self._reclaim()
            else:
                log.warning(
                    "partition %d: commit failed, reading the partition to learn what landed: %s",
                    self.partition,
                    exc,
                )
                await self._reclaim()
                await self._answer(batch, self._outcomes_from_log(decided, batch))
            return None
        APPEND_SECONDS.observe(time.perf_counter() - started)
        self._states.update(encoded)
        self._next_offset = decided.through + 2  # the commit marker takes one offset
        return list(decided.outcomes)

    async def _reclaim(self) -> None:
        """Claim the partition again and restore it (not while a rebalance is under way: the
        next assignment decides, and its claim restores)."""
        if self.phase is Phase.READY:
            self.phase = Phase.CLAIMING
            await self._claim()

    def _outcomes_from_log(self, decided: Plan, batch: list[_Pending]) -> list[Outcome | Exception]:
        """After an append of unknown outcome and a fresh restore: what landed is in the state."""
        outcomes: list[Outcome | Exception] = []
        for pending, outcome in zip(batch, decided.outcomes, strict=True):
            if not isinstance(outcome, Answer) or outcome.event_id is None:
                outcomes.append(outcome)  # decided without appending: still true
                continue
            command = pending.request.command
            state = self._state_of(command.id) if self.phase is Phase.READY else None
            first = state.remembered(command.command_id, self.partition) if state else None
            if first is not None:
                outcomes.append(first)
            elif self.phase is Phase.READY:
                outcomes.append(
                    ServiceUnavailable(
                        "the event log did not take the write; nothing was written. Retry"
                    )
                )
            else:
                outcomes.append(
                    ServiceUnavailable(
                        "the append's outcome is unknown. Retry with the same commandId to "
                        "learn it",
                        commandId=command.command_id,
                    )
                )
        return outcomes

    def _release(self, reason: OwnerMoved) -> None:
        while self._pending:
            pending = self._pending.popleft()
            if not pending.taken:
                pending.taken = True
                _settle(pending, reason)


def _is_event_of(event: Envelope | BadRecord | None, remembered: Remembered) -> bool:
    return (
        isinstance(event, Envelope)
        and event.causation_id == remembered.command_id
        and event.product_id == remembered.product_id
        and event.sequence == remembered.version
    )


def _settle(pending: _Pending, outcome: Outcome | Exception) -> None:
    if pending.future.done():
        return
    if isinstance(outcome, Answer):
        pending.future.set_result(outcome)
    elif isinstance(outcome, Exception):
        pending.future.set_exception(outcome)
    else:  # a Remembered outcome is resolved into an Answer before it is settled
        raise TypeError(f"unresolved outcome {outcome!r}")
