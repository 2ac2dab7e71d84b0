"""The partition writer over an in-memory partition: group commit, and what each kind of failed
append means for the commands in it (partition_writer.py's docstring lists the rules)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from services.command import write_state
from services.command.graphql import update_command
from services.command.partition_writer import PartitionWriter, Phase
from services.command.planning import IssuedCommand
from services.command.ports import OwnerMoved
from services.command.write_state import Answer
from shared.adapters import tracing
from shared.adapters.tracing import SendSpans
from shared.domain.commands import CreateProduct, parse
from shared.domain.errors import DomainError
from shared.envelope import Envelope, Position
from shared.errors import ServiceUnavailable
from tests.support.tracing import CALLER, CALLER_SPAN_ID, CALLER_TRACE_ID, in_memory
from tests.unit.command.fakes import FakePartition, FakePartitionLog

IDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(8)]


def create(pid: str, command_id: str | None = None) -> IssuedCommand:
    data: dict[str, Any] = {
        "id": pid,
        "sku": "S",
        "name": "N",
        "price": {"amount": "1.00", "currency": "EUR"},
    }
    if command_id:
        data["commandId"] = command_id
    return IssuedCommand(parse(CreateProduct, data), "corr", "tester")


def rename(pid: str, name: str, command_id: str | None = None) -> IssuedCommand:
    data: dict[str, Any] = {"id": pid, "name": name}
    if command_id:
        data["commandId"] = command_id
    return IssuedCommand(update_command(data), "corr", "tester")


async def started(
    partition: FakePartition, **kwargs: Any
) -> tuple[PartitionWriter, FakePartitionLog]:
    log = FakePartitionLog(partition)
    writer = PartitionWriter(log, max_batch=64, horizon=8, **kwargs)
    writer.start()
    await until(lambda: writer.ready)
    return writer, log


async def until(condition: Any, timeout_s: float = 2) -> None:
    """Until a condition of the code under test holds (it exposes no event to wait on)."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


def logged(partition: FakePartition) -> list[Envelope]:
    return [e for e in partition.events if isinstance(e, Envelope)]


async def test_concurrent_commands_share_one_transaction_and_get_their_own_positions() -> None:
    partition = FakePartition(partition=2)
    writer, log = await started(partition)
    answers = await asyncio.gather(*(writer.submit(create(pid), 1) for pid in IDS))
    assert log.appends == 1  # one batch, one transaction
    assert [(a.id, a.version, a.position) for a in answers] == [
        (pid, 1, Position(2, offset)) for offset, pid in enumerate(IDS)
    ]
    # The next transaction starts after the first one's commit marker.
    again = await writer.submit(rename(IDS[0], "Cup"), 1)
    assert again.position == Position(2, len(IDS) + 1) and partition.events_end() == len(IDS) + 3
    await writer.close(1)
    assert log.closed


async def test_a_fenced_writer_writes_nothing_closes_and_hands_its_commands_on() -> None:
    partition = FakePartition()
    fenced: list[int] = []
    writer, _ = await started(partition, on_fenced=fenced.append)
    await writer.submit(create(IDS[0]), 1)
    await FakePartitionLog(partition).claim()  # a newer owner claims the partition
    before = partition.events_end()
    with pytest.raises(OwnerMoved):
        await writer.submit(rename(IDS[0], "Cup"), 1)
    assert partition.events_end() == before and writer.phase is Phase.CLOSED and fenced == [0]
    with pytest.raises(OwnerMoved):  # and it takes nothing new
        await writer.submit(rename(IDS[0], "Bowl"), 1)


async def test_a_failure_before_the_commit_answers_not_written_and_the_writer_recovers() -> None:
    partition = FakePartition()
    writer, log = await started(partition)
    log.fail_next = "before_commit"
    with pytest.raises(ServiceUnavailable) as refused:
        await writer.submit(create(IDS[0], "c1"), 1)
    assert refused.value.extensions == {"retriable": True}  # no commandId: nothing was written
    assert logged(partition) == []
    assert (await writer.submit(create(IDS[0], "c1"), 1)).version == 1  # the retry is written


@pytest.mark.parametrize("landed", [True, False])
async def test_a_commit_of_unknown_outcome_is_answered_from_what_the_log_holds(
    landed: bool,
) -> None:
    partition = FakePartition()
    writer, log = await started(partition)
    await writer.submit(create(IDS[0]), 1)
    log.fail_next = "commit_landed" if landed else "commit_lost"
    outcome: Answer | BaseException
    try:
        outcome = await writer.submit(rename(IDS[0], "Cup", "r1"), 2)
    except ServiceUnavailable as exc:
        outcome = exc
    events = logged(partition)
    if landed:
        assert isinstance(outcome, Answer) and outcome.event_id == events[-1].event_id
        assert outcome.version == 2
    else:
        assert isinstance(outcome, ServiceUnavailable) and "nothing was written" in outcome.message
        assert len(events) == 1
    # Either way the writer restored the partition and goes on.
    assert writer.ready
    retried = await writer.submit(rename(IDS[0], "Cup", "r1"), 1)
    assert retried.version == 2 and len(logged(partition)) == 2


async def test_an_append_by_someone_else_is_detected_and_nothing_is_decided_on_stale_state() -> (
    None
):
    partition = FakePartition()
    writer, _ = await started(partition)
    await writer.submit(create(IDS[0]), 1)
    intruder = logged(partition)[0]
    partition.foreign_event(intruder)  # offsets move under the owner
    with pytest.raises(OwnerMoved):  # not written; the router routes it again
        await writer.submit(rename(IDS[0], "Cup"), 1)
    await until(lambda: writer.ready)
    answer = await writer.submit(rename(IDS[0], "Cup"), 1)
    # 0 ours, 1 marker, 2-3 the foreign record, 4-5 the aborted attempt and its marker
    assert answer.version == 2 and answer.position == Position(0, 6)


async def test_a_command_the_writer_never_took_fails_as_not_written_at_its_deadline() -> None:
    partition = FakePartition()
    log = FakePartitionLog(partition)
    log.fail_next = "claim"  # Kafka away: the writer keeps trying to claim
    writer = PartitionWriter(log, max_batch=64, horizon=8)
    writer.start()
    with pytest.raises(ServiceUnavailable) as refused:
        await writer.submit(create(IDS[0]), 0.05)
    assert "nothing was written" in refused.value.message
    await until(lambda: writer.ready)
    await asyncio.sleep(0.01)
    assert logged(partition) == []  # the expired command was dropped, never appended


async def test_a_paused_writer_keeps_its_state_when_the_partition_comes_back_untouched() -> None:
    partition = FakePartition()
    writer, _ = await started(partition)
    await writer.submit(create(IDS[0]), 1)
    restored = writer.restored
    await writer.pause(1)
    queued = asyncio.ensure_future(writer.submit(rename(IDS[0], "Cup"), 2))
    await asyncio.sleep(0.01)
    assert not queued.done()  # nothing is taken during a rebalance
    writer.resume()
    assert (await queued).version == 2
    assert writer.restored is restored  # claimed again, state kept: no restore


async def test_a_paused_writer_restores_when_the_partition_changed_meanwhile() -> None:
    partition = FakePartition()
    writer, _ = await started(partition)
    await writer.submit(create(IDS[0]), 1)
    await writer.pause(1)
    other, _ = await started(partition)  # owned elsewhere for a while
    await other.submit(rename(IDS[0], "Cup"), 1)
    await other.close(1)
    writer.resume()  # back here: the writer must not decide on its old state
    answer = await writer.submit(rename(IDS[0], "Bowl"), 1)
    assert answer.version == 3


async def test_closing_hands_queued_commands_on_to_the_next_owner() -> None:
    partition = FakePartition()
    writer, _ = await started(partition)
    await writer.pause(1)
    queued = asyncio.ensure_future(writer.submit(create(IDS[0]), 2))
    await asyncio.sleep(0.01)
    await writer.close(1)
    with pytest.raises(OwnerMoved):
        await queued
    assert logged(partition) == []


async def test_a_retry_gets_the_first_answer_with_the_event_id_read_back_from_the_log() -> None:
    partition = FakePartition()
    writer, log = await started(partition)
    first = await writer.submit(create(IDS[0], "c1"), 1)
    await writer.submit(rename(IDS[0], "Cup", "r1"), 1)
    assert await writer.submit(create(IDS[0], "c1"), 1) == first
    assert log.reads == 1 and len(logged(partition)) == 2


async def test_two_command_ids_with_one_fingerprint_are_never_confused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(write_state, "fingerprint", lambda _: "same")
    partition = FakePartition()
    writer, _ = await started(partition)
    await writer.submit(create(IDS[0], "c1"), 1)
    # "r1" looks remembered (same fingerprint as "c1"), but the event there is c1's: decided.
    renamed = await writer.submit(rename(IDS[0], "Cup", "r1"), 1)
    assert renamed.version == 2 and logged(partition)[-1].causation_id == "r1"


async def test_each_event_is_appended_carrying_its_send_spans_context_in_its_commands_trace() -> (
    None
):
    traced, exported = in_memory()
    partition = FakePartition(partition=1)
    writer, _ = await started(partition, spans=SendSpans(traced, "product-events"))
    mine = replace(create(IDS[0]), trace=CALLER)
    refused = create(IDS[0])  # the same product again: ALREADY_EXISTS, nothing sent
    outcomes = await asyncio.gather(
        writer.submit(mine, 1), writer.submit(refused, 1), return_exceptions=True
    )
    assert isinstance(outcomes[0], Answer) and isinstance(outcomes[1], DomainError)
    (sent,) = exported.get_finished_spans()
    assert sent.name == "send product-events" and sent.status.is_ok
    assert sent.context.trace_id == CALLER_TRACE_ID
    assert sent.parent is not None and sent.parent.span_id == CALLER_SPAN_ID
    (event,) = logged(partition)
    carried = tracing.span_context(event.trace)
    assert carried is not None and carried.span_id == sent.context.span_id
    assert outcomes[0].event_id == event.event_id


async def test_a_send_span_whose_append_failed_says_so() -> None:
    traced, exported = in_memory()
    writer, log = await started(FakePartition(), spans=SendSpans(traced, "t"))
    log.fail_next = "before_commit"
    with pytest.raises(ServiceUnavailable):
        await writer.submit(replace(create(IDS[0]), trace=CALLER), 1)
    (sent,) = exported.get_finished_spans()
    assert sent.status.status_code is StatusCode.ERROR


async def test_without_spans_an_event_carries_the_trace_its_command_was_issued_in() -> None:
    partition = FakePartition()
    writer, _ = await started(partition)
    await writer.submit(replace(create(IDS[0]), trace=CALLER), 1)
    await writer.submit(create(IDS[1]), 1)
    assert [e.trace for e in logged(partition)] == [CALLER, None]
