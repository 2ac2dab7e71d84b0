"""The command service layer: decide against the write model, append, answer.

Commands are queued and handled by one loop in batches ("group commit"): the loop decides each
command against the state left by the ones before it, appends the whole batch's events in one
Kafka transaction and only then answers. One loop means commands for a product are serialized
without locks; one transaction per batch means the cost of a commit is shared by everyone
waiting. A command answers success only once its event is committed, and an error only when
nothing of it was written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

from services.command.write_model import Answer, WriteModel
from shared.adapters.kafka_log import Fenced, LogUnavailable
from shared.domain.commands import AnyCommand
from shared.domain.decider import State, decide, evolve
from shared.domain.errors import DomainError
from shared.envelope import Envelope, Position, new_envelope

log = logging.getLogger(__name__)

COMMANDS = Counter("catalog_commands_total", "Commands handled", ["command", "outcome"])
BATCH_SIZE = Histogram(
    "catalog_command_batch_size",
    "Commands per append transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
APPEND_SECONDS = Histogram("catalog_append_seconds", "Time to commit one append transaction")


class Unavailable(DomainError):
    """The log cannot be written now. Retrying with the same commandId is always safe."""

    code = "SERVICE_UNAVAILABLE"


Append = Callable[[list[Envelope]], Awaitable[list[Position]]]
Resync = Callable[[], Awaitable[None]]


@dataclass(eq=False)
class _Pending:
    command: AnyCommand
    correlation_id: str
    actor: str
    future: asyncio.Future[Answer] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    taken: bool = False


class CommandProcessor:
    def __init__(
        self, model: WriteModel, append: Append, resync: Resync, max_batch: int, timeout_s: float
    ) -> None:
        self._model = model
        self._append = append
        self._resync = resync
        self._max_batch = max_batch
        self._timeout_s = timeout_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.fenced = False
        self.recovering = False

    @property
    def healthy(self) -> bool:
        return not (self.fenced or self.recovering)

    async def handle(self, command: AnyCommand, correlation_id: str, actor: str) -> Answer:
        """Answer a command. Raises DomainError (refused, nothing written) or Unavailable.

        `actor` is the authenticated subject, recorded with the command's events.
        """
        if self.fenced:
            raise Unavailable(
                "this command-service instance was replaced by a newer one", retriable=True
            )
        pending = _Pending(command, correlation_id, actor)
        self._queue.put_nowait(pending)
        kind = type(command).__name__
        try:
            answer = await asyncio.wait_for(asyncio.shield(pending.future), self._timeout_s)
        except TimeoutError:
            if not pending.taken:
                pending.taken = True  # the loop skips it: it will never be written
                COMMANDS.labels(kind, "timeout").inc()
                raise Unavailable(
                    "the event log is not accepting writes; retry", retriable=True
                ) from None
            COMMANDS.labels(kind, "unknown").inc()
            raise Unavailable(
                "the append did not finish in time; its outcome is unknown. "
                "Retry with the same commandId to learn it",
                retriable=True,
                commandId=command.command_id,
            ) from None
        except DomainError as exc:
            COMMANDS.labels(kind, exc.code).inc()
            raise
        COMMANDS.labels(kind, "ok").inc()
        return answer

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [p for p in batch if not p.taken]
            for pending in batch:
                pending.taken = True
            if batch:
                await self._process(batch)

    async def _process(self, batch: list[_Pending]) -> None:
        overlay: dict[str, State] = {}
        first_of: dict[str, _Pending] = {}
        envelopes: list[Envelope] = []
        writers: list[tuple[_Pending, int]] = []  # who waits for which envelope
        followers: list[tuple[_Pending, _Pending]] = []  # same commandId twice in one batch
        for pending in batch:
            command = pending.command
            if (earlier := first_of.get(command.command_id)) is not None:
                followers.append((pending, earlier))
                continue
            first_of[command.command_id] = pending
            if (answer := self._model.answer_for(command.command_id)) is not None:
                pending.future.set_result(answer)
                continue
            state = overlay.get(command.id, self._model.state(command.id))
            try:
                events = decide(command, state)
            except DomainError as exc:
                pending.future.set_exception(exc)
                continue
            if not events:
                assert state is not None
                pending.future.set_result(Answer(state.id, state.version))
                continue
            for event in events:
                state = evolve(state, event)
                assert state is not None
                envelopes.append(
                    new_envelope(
                        event,
                        state.version,
                        command.command_id,
                        pending.correlation_id,
                        pending.actor,
                    )
                )
            overlay[command.id] = state
            writers.append((pending, len(envelopes) - 1))
        if envelopes:
            await self._commit(envelopes, writers)
        for pending, earlier in followers:
            _chain(earlier.future, pending.future)

    async def _commit(self, envelopes: list[Envelope], writers: list[tuple[_Pending, int]]) -> None:
        BATCH_SIZE.observe(len(writers))
        started = time.perf_counter()
        try:
            positions = await self._append(envelopes)
        except Fenced:
            self.fenced = True
            log.error("fenced: a newer command-service instance owns the event log")
            error = Unavailable(
                "this command-service instance was replaced by a newer one", retriable=True
            )
            for pending, _ in writers:
                pending.future.set_exception(error)
            return
        except LogUnavailable as exc:
            if exc.outcome_known:
                log.warning("append failed before its commit; nothing was written: %s", exc)
                error = Unavailable(
                    "the event log is unreachable; nothing was written. Retry", retriable=True
                )
                for pending, _ in writers:
                    pending.future.set_exception(error)
                await self._recover([])  # a fresh producer before the next batch
            else:
                log.warning("commit failed, re-reading the log to learn what landed: %s", exc)
                await self._recover(writers)
            return
        APPEND_SECONDS.observe(time.perf_counter() - started)
        for envelope, position in zip(envelopes, positions, strict=True):
            self._model.apply(envelope, position)
        for pending, index in writers:
            envelope = envelopes[index]
            pending.future.set_result(
                Answer(envelope.product_id, envelope.sequence, envelope.event_id, positions[index])
            )

    async def _recover(self, writers: list[tuple[_Pending, int]]) -> None:
        """After a failed append, the log alone says which commands landed; answer from it."""
        self.recovering = True
        delay = 0.2
        while True:
            try:
                await self._resync()
                break
            except Exception:
                log.warning("log not readable yet; retrying in %.1fs", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.recovering = False
        for pending, _ in writers:
            answer = self._model.answer_for(pending.command.command_id)
            if answer is not None:
                pending.future.set_result(answer)
            else:
                pending.future.set_exception(
                    Unavailable("the event log did not accept the write; retry", retriable=True)
                )


def _chain(source: asyncio.Future[Answer], target: asyncio.Future[Answer]) -> None:
    def copy(done: asyncio.Future[Answer]) -> None:
        if done.exception() is not None:
            target.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)
