"""The projector's intake: what the fetching task took in, handed whole to the next batch."""

from __future__ import annotations

import asyncio
import time

from aiokafka import TopicPartition

from services.projector.intake import Intake

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


async def test_a_batch_takes_everything_that_came_in_in_order_per_partition() -> None:
    intake = Intake(limit=100)
    intake.put({A: [1, 2], B: [10]})
    intake.put({A: [3], B: []})
    intake.put({B: [11, 12]})
    assert (intake.pending(A), intake.pending(B)) == (3, 3)
    assert await intake.take(0.2, lambda: {A, B}) == {A: [1, 2, 3], B: [10, 11, 12]}
    assert (intake.pending(A), intake.pending(B)) == (0, 0)


async def test_take_waits_for_records_then_returns_at_once() -> None:
    intake = Intake(limit=100)
    asyncio.get_running_loop().call_later(0.05, intake.put, {A: [1]})
    started = time.monotonic()
    assert await intake.take(5, lambda: {A}) == {A: [1]}
    assert time.monotonic() - started < 1


async def test_take_returns_nothing_after_its_timeout() -> None:
    intake = Intake(limit=100)
    started = time.monotonic()
    assert await intake.take(0.05, lambda: {A}) == {}
    assert 0.04 < time.monotonic() - started < 1


async def test_a_full_intake_takes_in_nothing_until_a_batch_is_taken() -> None:
    """The bound that keeps a projector paused by a MongoDB outage at one batch in memory."""
    intake = Intake(limit=3)
    assert await intake.room() == 3
    intake.put({A: [1, 2]})
    assert await intake.room() == 1
    intake.put({B: [3]})
    waiting = asyncio.create_task(intake.room())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert await intake.take(0.2, lambda: {A, B}) == {A: [1, 2], B: [3]}
    assert await asyncio.wait_for(waiting, 1) == 3


async def test_records_of_partitions_no_longer_assigned_are_dropped() -> None:
    intake = Intake(limit=100)
    intake.put({A: [1], B: [2]})
    assert await intake.take(0.2, lambda: {B}) == {B: [2]}
    assert await intake.take(0.01, lambda: {A, B}) == {}


async def test_the_assignment_counts_as_it_is_when_the_records_are_taken() -> None:
    """A rebalance during the wait that gives us a partition: its records arriving in the same
    wait are ours. Filtered by the assignment from before the wait they were dropped, while the
    consumer's position had moved past them, and were never projected."""
    intake = Intake(limit=100)
    assignment = {A}

    def rebalance_then_fetch() -> None:
        assignment.add(B)
        intake.put({B: [7, 8]})

    asyncio.get_running_loop().call_later(0.05, rebalance_then_fetch)
    assert await intake.take(5, lambda: assignment) == {B: [7, 8]}
