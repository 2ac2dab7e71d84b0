"""The projector's loop over in-memory fakes of its ports: batching, dead letters, retries,
offsets and the rebuild's pause, without Kafka or MongoDB (those run in tests/integration/)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from itertools import pairwise

import pytest
from aiokafka import TopicPartition

from services.projector.consumer import OffsetCommitFailed, Projector
from shared.adapters import tracing
from shared.adapters.tracing import ProjectorSpans
from shared.backoff import Backoff
from shared.read_model.products import trace_of
from tests.query.events import created, deleted, new_id, updated
from tests.support.fakes import FakeDeadLetters, FakePause, FakeSource, FakeStore
from tests.support.tracing import CALLER, CALLER_SPAN_ID, CALLER_TRACE_ID, in_memory, named


@dataclass
class Loop:
    projector: Projector
    source: FakeSource
    dead: FakeDeadLetters
    store: FakeStore
    pause: FakePause
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def running(
    store: FakeStore | None = None, max_batch: int = 100, spans: ProjectorSpans | None = None
) -> AsyncIterator[Loop]:
    source, dead, pause = FakeSource(), FakeDeadLetters(), FakePause()
    store = store or FakeStore()
    projector = Projector(
        source, dead, store, pause, max_batch, Backoff(first_s=0.001), spans=spans
    )
    await projector.start()
    task = asyncio.create_task(projector.run())
    try:
        yield Loop(projector, source, dead, store, pause, task)
    finally:
        if not task.done():  # a loop that ended on its own was awaited by its test
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await projector.stop()


async def until(condition: Callable[[], bool], within_s: float = 2) -> None:
    for _ in range(int(within_s * 1000)):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"not so within {within_s}s")


def committed(loop: Loop) -> dict[int, int]:
    return {tp.partition: offset for tp, offset in loop.source.committed.items()}


async def test_good_records_are_applied_and_poison_goes_to_the_dead_letters() -> None:
    a, b = new_id(), new_id()
    async with running() as loop:
        loop.source.append_event(created(a), 0)
        poison = loop.source.append(0, a.encode(), b"{not json", [("ce_type", b"x")])
        loop.source.append_event(updated(a, 2, name="Cup"), 0)
        loop.source.append_event(created(b), 1)
        await until(lambda: committed(loop) == {0: 3, 1: 1})
        assert {pid: d["version"] for pid, d in loop.store.products.items()} == {a: 2, b: 1}
        assert loop.store.products[a]["name"] == "Cup"
        assert [(o.partition, r, reason.split(":")[0]) for o, r, reason in loop.dead.sent] == [
            (0, poison, "missing headers")
        ]
        assert loop.projector.gaps == 0 and loop.projector.running


async def test_offsets_are_committed_only_after_the_read_models_took_the_batch() -> None:
    a = new_id()
    async with running(FakeStore(failures_to_come=3)) as loop:
        loop.source.append_event(created(a))
        await until(lambda: loop.store.calls >= 2)
        assert not loop.projector.mongo_ok and loop.source.committed == {}
        await until(lambda: committed(loop) == {0: 1})
        assert loop.projector.mongo_ok and loop.store.calls == 4
        assert loop.store.products[a]["version"] == 1


async def test_a_redelivered_batch_changes_nothing_and_a_hole_is_refused_and_counted() -> None:
    a = new_id()
    first, second = created(a), updated(a, 2, name="B")
    async with running() as loop:
        for envelope in (first, second, first, second, deleted(a, 4)):
            loop.source.append_event(envelope)
        await until(lambda: committed(loop) == {0: 5})
        assert loop.store.products[a]["version"] == 2 and not loop.store.products[a]["deleted"]
        assert sorted(loop.store.history) == sorted([first.event_id, second.event_id])
        assert loop.projector.gaps == 1  # version 4 after 2: version 3 is missing


async def test_a_refused_offset_commit_ends_the_loop() -> None:
    async with running() as loop:
        loop.source.refuse_commits = True
        loop.source.append_event(created(new_id()))
        await until(lambda: loop.store.calls == 1)
        loop.source.append_event(created(new_id()))  # its write waits for the refused commit
        with pytest.raises(ExceptionGroup) as failed:
            await asyncio.wait_for(loop.task, 2)
        assert failed.group_contains(OffsetCommitFailed)
        assert len(loop.store.products) == 1  # the second batch was rolled back


async def test_a_batch_never_holds_more_than_the_intake_allows() -> None:
    ids = [new_id() for _ in range(7)]
    async with running(max_batch=3) as loop:
        for pid in ids:
            loop.source.append_event(created(pid))
        await until(lambda: committed(loop) == {0: 7})
        assert len(loop.store.products) == 7
        steps = [c[TopicPartition("events", 0)] for c in loop.source.commits]
        assert steps == sorted(steps) and all(b - a <= 3 for a, b in pairwise([0, *steps]))


async def test_a_rebuild_pause_holds_the_loop_at_the_consumer_positions() -> None:
    a, b = new_id(), new_id()
    async with running() as loop:
        loop.source.append_event(created(a))
        await until(lambda: committed(loop) == {0: 1})
        loop.pause.token = "rebuild-1"
        await until(lambda: bool(loop.pause.held))
        assert loop.pause.held == [("rebuild-1", {0: 1, 1: 0})]
        loop.source.append_event(created(b), 1)
        await asyncio.sleep(0.05)
        assert b not in loop.store.products  # standing still while the rebuild swaps
        loop.pause.release.set()
        await until(lambda: committed(loop) == {0: 1, 1: 1})
        assert b in loop.store.products


async def test_lag_counts_records_fetched_but_waiting_behind_a_stuck_batch() -> None:
    async with running(FakeStore(failures_to_come=10_000)) as loop:
        loop.source.append_event(created(new_id()), 0)
        await until(lambda: loop.store.calls >= 1)  # that batch cannot be written
        for _ in range(3):
            loop.source.append_event(created(new_id()), 1)
        await until(lambda: loop.source.fetched(1) == 3)  # into the intake, behind the batch
        assert (await loop.projector.partition_lag())[1] == 3


async def test_a_traced_batch_projects_old_and_new_events_alike_and_traces_the_new() -> None:
    traced, exported = in_memory()
    old, new = new_id(), new_id()
    spans = ProjectorSpans(traced, "catalog-projector", "catalog")
    async with running(spans=spans) as loop:
        loop.source.append_event(created(old), 0)  # written before tracing: no ce_traceparent
        loop.source.append_event(replace(created(new), trace=CALLER), 1)
        await until(lambda: committed(loop) == {0: 1, 1: 1})
    assert {pid: d["version"] for pid, d in loop.store.products.items()} == {old: 1, new: 1}
    spans_ = exported.get_finished_spans()
    (batch,) = [s for s in named(spans_, "process events") if s.parent is None]
    assert [(link.context.trace_id, link.context.span_id) for link in batch.links] == [
        (CALLER_TRACE_ID, CALLER_SPAN_ID)
    ]
    (process,) = [s for s in named(spans_, "process events") if s.parent is not None]
    assert process.parent is not None and process.parent.span_id == CALLER_SPAN_ID
    (write,) = named(spans_, "transaction catalog")
    assert write.parent == process.context and write.context.trace_id == CALLER_TRACE_ID
    # The document keeps its version's trace (the write's), for the subscription push; the old
    # product's document has none, exactly as before tracing.
    kept = tracing.span_context(trace_of(loop.store.products[new]))
    assert kept is not None and kept.span_id == write.context.span_id
    assert "trace" not in loop.store.products[old]
