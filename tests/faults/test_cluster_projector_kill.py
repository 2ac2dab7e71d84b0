"""Cluster: one of two projectors sharing the consumer group SIGKILLed in the middle of a burst.

Each projector joins with its own static member id (derived from its port: PROJECTOR_INSTANCE_ID
is not set here), so the two split the partitions instead of fencing each other. A killed static
member does not leave the group: its partitions are reassigned when its session times out, and
the survivor then goes on from the dead one's last committed offsets. Whatever the dead one had
applied but not committed is redelivered and skipped by the version guard, so the read models
end equal to the fold of the log, with nothing dead-lettered.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from tests.faults.outcome_table import OutcomeTable
from tests.support.cluster import NativeCluster
from tests.support.kafka import fold, read_all
from tests.support.producing import produce
from tests.support.read_models import assert_read_models_equal_fold, wait_for_versions
from tests.support.services import Service
from tests.support.strategies import write_side
from tests.support.workload import burst

FAULT = "Cluster: one of two projectors SIGKILLed mid-burst"
SESSION_TIMEOUT_S = 10.0  # the projector consumer's session_timeout_ms
PARTITIONS = list(range(6))
# Session timeout, rebalance and catching up, well below the 60 s after which MongoDB would
# expire a transaction the dead projector left open (and which would stall the survivor).
STALL_BOUND_S = 40.0


def metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def until_members(
    cluster: NativeCluster, group: str, count: int, within_s: float
) -> dict[str, list[int]]:
    """Until the group has `count` members sharing all partitions; its members then."""
    deadline = time.monotonic() + within_s
    while True:
        members = await cluster.group_members(group)
        shared = sorted(p for partitions in members.values() for p in partitions)
        if len(members) == count and shared == PARTITIONS:
            return members
        assert time.monotonic() < deadline, (
            f"group not {count} members after {within_s}s: {members}"
        )
        await asyncio.sleep(0.2)


async def test_the_other_projector_takes_over_and_the_read_models_equal_the_fold(
    cluster: NativeCluster,
    cluster_env: dict[str, str],
    cluster_db: AsyncDatabase[dict[str, Any]],
    outcome_table: OutcomeTable,
) -> None:
    env = {**cluster_env, "PROJECTOR_MAX_BATCH": "50"}
    topic, group = env["EVENTS_TOPIC"], env["PROJECTOR_GROUP_ID"]
    log, _ = write_side(burst(products=300, events=6000, seed=31))
    first, rest = log[:1000], log[1000:]
    await produce(env, first)
    survivor = Service("projector", env).start()
    victim = Service("projector", env).start()
    try:
        both = await until_members(cluster, group, 2, within_s=30)

        async def more_events() -> None:
            for start in range(0, len(rest), 250):
                await produce(env, rest[start : start + 250])
                await asyncio.sleep(0.1)

        producing = asyncio.create_task(more_events())
        deadline = time.monotonic() + 60
        while await cluster_db.product_history.count_documents({}) < len(first) + 1000:
            assert time.monotonic() < deadline, "the projectors did not get going in 60 s"
            await asyncio.sleep(0.05)
        victim.kill()
        killed_at = time.monotonic()
        applied_at_kill = await cluster_db.product_history.count_documents({})
        alone = await until_members(cluster, group, 1, within_s=SESSION_TIMEOUT_S + 20)
        taken_s = time.monotonic() - killed_at
        await producing
        records = await read_all(cluster.bootstrap, topic)
        states = fold(records)
        products = {pid: state for pid, state in states.items() if state is not None}
        try:
            await wait_for_versions(cluster_db, {pid: p.version for pid, p in products.items()})
        except AssertionError as exc:
            raise AssertionError(f"survivor's log:\n{survivor.tail(40)}") from exc
        caught_up_s = time.monotonic() - killed_at
        readiness = survivor.ready()
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{survivor.url}/metrics")).text
        dead = await read_all(cluster.bootstrap, f"{topic}.dlq")
    finally:
        survivor.stop()
        victim.stop()

    ids = sorted(re.sub(r"-[0-9a-f-]{36}$", "", member) for member in both)
    assert ids == sorted(f"projector-{socket.gethostname()}-{s.port}" for s in (survivor, victim))
    assert sorted(len(partitions) for partitions in both.values()) == [3, 3]
    outcome_table.record(
        FAULT,
        "two projectors without PROJECTOR_INSTANCE_ID share the group",
        f"static member ids {', '.join(ids)} (derived from host and port): 3 partitions each",
    )
    assert taken_s < SESSION_TIMEOUT_S + 5
    assert list(alone.values()) == [PARTITIONS]
    outcome_table.record(
        FAULT,
        "the survivor takes the dead one's partitions",
        f"killed with {applied_at_kill} of {len(log)} events applied; the survivor held all 6 "
        f"partitions {taken_s:.1f} s later (session timeout {SESSION_TIMEOUT_S:.0f} s)",
    )
    await assert_read_models_equal_fold(cluster_db, states, len(records))
    # Not held up until MongoDB expires a transaction the dead one left open (60 s).
    assert caught_up_s < STALL_BOUND_S
    aborted = re.findall(
        r"aborted (\d+) open transaction\(s\) of other members", survivor.tail(10**6)
    )
    assert readiness[0] == 200
    assert dead == []
    assert metric(metrics, "catalog_projector_gaps_total") == 0
    outcome_table.record(
        FAULT,
        "read models = fold of the log; dead letters; version gaps",
        f"{len(records)} events over {len(products)} products, all projected {caught_up_s:.1f} s "
        f"after the kill (bound {STALL_BOUND_S:.0f} s; on taking the partitions the survivor "
        f"aborted {sum(map(int, aborted))} transaction(s) the dead one left open, and skipped "
        f"{metric(metrics, 'catalog_projector_events_skipped_total'):.0f} redelivered events); "
        "products, history and category statistics equal the fold; 0 dead letters; 0 gaps",
    )
