"""Routing a command to its partition's owner (routing.py, ownership.py), with two "instances"
in one process: their routers, real partition writers over in-memory partitions, and a
forwarder that hands commands from one to the other."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from services.command.ownership import Ownership, StallWatch
from services.command.partition_writer import PartitionWriter
from services.command.ports import OwnerMoved
from services.command.routing import CommandRouter, partition_for
from shared.domain.errors import ConcurrencyConflict
from shared.errors import ServiceUnavailable
from tests.unit.command.fakes import FakeForwarder, FakePartition, FakePartitionLog
from tests.unit.command.test_partition_writer import create, until

PARTITIONS = 4
A, B = "http://a", "http://b"


class Instance:
    def __init__(
        self,
        url: str,
        partitions: dict[int, FakePartition],
        forwarder: FakeForwarder,
        timeout_s: float = 1.0,
    ) -> None:
        self.watch = StallWatch(limit_s=5)
        self.ownership = Ownership(
            lambda p: PartitionWriter(FakePartitionLog(partitions[p]), 64, 8), url, self.watch, 0.5
        )
        self.router = CommandRouter(self.ownership, forwarder, PARTITIONS, timeout_s)
        forwarder.instances[url] = self.router


@pytest.fixture
def cluster() -> tuple[Instance, Instance, FakeForwarder]:
    partitions = {p: FakePartition(partition=p) for p in range(PARTITIONS)}
    forwarder = FakeForwarder()
    return Instance(A, partitions, forwarder), Instance(B, partitions, forwarder), forwarder


async def settle(a: Instance, b: Instance) -> dict[int, str]:
    owners = {0: A, 1: A, 2: B, 3: B}
    await a.ownership.assigned({0, 1}, owners)
    await b.ownership.assigned({2, 3}, owners)
    await until(lambda: a.ownership.ready() and b.ownership.ready())
    return owners


def pid_in(partition: int) -> str:
    for n in range(10_000):
        pid = f"00000000-0000-4000-8000-{n:012d}"
        if partition_for(pid, PARTITIONS) == partition:
            return pid
    raise AssertionError("no id found")


async def test_any_instance_answers_any_command_with_the_owners_answer(cluster: Any) -> None:
    a, b, forwarder = cluster
    await settle(a, b)
    mine, theirs = pid_in(0), pid_in(3)
    here = await a.router.handle(create(mine, "c1"), None)
    there = await a.router.handle(create(theirs, "c2"), None)
    assert here.position.partition == 0 and there.position.partition == 3  # type: ignore[union-attr]
    assert [owner for owner, _ in forwarder.forwarded] == [B]
    # A retry through the other instance reaches the same owner and gets the first answer.
    assert await b.router.handle(create(theirs, "c2"), None) == there
    assert await b.router.handle(create(mine, "c1"), None) == here
    # And a refusal is the owner's refusal, with its extensions.
    with pytest.raises(ConcurrencyConflict) as refused:
        await a.router.handle(rename_expecting(theirs, 7), None)
    assert refused.value.extensions == {"expectedVersion": 7, "actualVersion": 1}


def rename_expecting(pid: str, version: int) -> Any:
    from services.command.graphql import update_command
    from services.command.planning import IssuedCommand

    return IssuedCommand(
        update_command({"id": pid, "name": "x", "expectedVersion": version}), "c", "t"
    )


async def test_during_a_rebalance_a_command_waits_for_the_new_owner(cluster: Any) -> None:
    a, b, _ = cluster
    await settle(a, b)
    await a.ownership.revoked()
    await b.ownership.revoked()
    waiting = asyncio.ensure_future(a.router.handle(create(pid_in(3), "c1"), None))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    owners = {0: B, 1: B, 2: A, 3: A}  # everything moved
    await b.ownership.assigned({0, 1}, owners)
    await a.ownership.assigned({2, 3}, owners)
    answer = await waiting
    assert answer.position.partition == 3  # type: ignore[union-attr]


async def test_with_no_owner_until_the_deadline_the_command_fails_as_not_written() -> None:
    forwarder = FakeForwarder()
    lonely = Instance(A, {p: FakePartition(partition=p) for p in range(PARTITIONS)}, forwarder, 0.3)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as refused:
        await lonely.router.handle(create(pid_in(1)), None)
    assert 0.3 <= time.monotonic() - started < 1.5
    assert (
        "nothing was written" in refused.value.message
        and "commandId" not in refused.value.extensions
    )


async def test_an_owner_that_may_have_decided_but_did_not_answer_makes_the_outcome_unknown(
    cluster: Any,
) -> None:
    a, b, forwarder = cluster
    a.router._timeout_s = 0.3
    await settle(a, b)
    forwarder.unreachable[B] = False  # the request went out; no answer came back
    with pytest.raises(ServiceUnavailable) as refused:
        await a.router.handle(create(pid_in(2), "c9"), None)
    assert refused.value.extensions == {"retriable": True, "commandId": "c9"}


async def test_a_forwarded_command_is_never_forwarded_on(cluster: Any) -> None:
    a, b, _ = cluster
    await settle(a, b)
    with pytest.raises(OwnerMoved):
        await a.router.decide_here(create(pid_in(3)))


async def test_after_a_stall_the_instance_routes_nothing_until_it_is_assigned_again(
    cluster: Any,
) -> None:
    a, b, _ = cluster
    owners = await settle(a, b)
    a.watch._last -= 10  # as if the process had been stopped for 10 s
    assert a.ownership.route(0) is None and not a.ownership.ready()
    with pytest.raises(ServiceUnavailable, match="paused"):
        await a.router.handle(create(pid_in(0)), None)
    await until(lambda: all(w.phase.value == "paused" for w in a.ownership.writers.values()))
    await a.ownership.assigned({0, 1}, owners)
    await until(a.ownership.ready)
    assert (await a.router.handle(create(pid_in(0)), None)).version == 1
