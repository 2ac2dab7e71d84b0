"""Cluster: a broker frozen (SIGSTOP) for longer than its session timeout, then resumed (SIGCONT).

A paused process is the case a crash is not: it comes back believing it still leads its
partitions. Meanwhile the controller has fenced it (no heartbeat for broker.session.timeout.ms)
and made in-sync followers the leaders, which go on taking writes. When it wakes, it must learn
that it was replaced and truncate to the new leaders' logs, not serve or keep its own version:
no acknowledged write lost, none duplicated, one leader per partition, and the broker back in
every ISR.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter

import httpx

from tests.faults.conftest import command_services
from tests.faults.outcome_table import OutcomeTable
from tests.support.cluster import NativeCluster
from tests.support.kafka import assert_gapless, read_all
from tests.support.services import create_products
from tests.support.workload import WriteLoad

FAULT = "Cluster: a broker frozen (SIGSTOP) past its session timeout, then resumed"
SESSION_TIMEOUT_S = 9.0  # the brokers' broker.session.timeout.ms (Kafka's default)
FROZEN_S = 15.0


async def test_a_frozen_broker_is_replaced_and_rejoins_without_losing_or_doubling_a_write(
    cluster: NativeCluster, cluster_env: dict[str, str], outcome_table: OutcomeTable
) -> None:
    topic = cluster_env["EVENTS_TOPIC"]
    commands = command_services(cluster_env)
    for command in commands:
        command.start()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            ids = await create_products(http, commands[0], 12)
            partition_of = {r.key: r.partition for r in await read_all(cluster.bootstrap, topic)}
            before = {p.partition: p for p in await cluster.partitions(topic)}
            victim, _ = Counter(before[partition_of[pid]].leader for pid in ids).most_common(1)[0]
            led = sorted(p for p, found in before.items() if found.leader == victim)

            load = WriteLoad(http, commands, ids, workers=8)
            load.start()
            await load.wait_acknowledged(100, within_s=60)
            frozen_at = time.monotonic()
            await asyncio.to_thread(cluster.signal, "kafka", victim, signal.SIGSTOP)
            try:
                during = await cluster.wait_for_leaders(topic, without=victim)
                moved_s = time.monotonic() - frozen_at
                await asyncio.sleep(max(0.0, FROZEN_S - (time.monotonic() - frozen_at)))
                acked_while_frozen = sum(
                    1 for at in list(load.acknowledged_at.values()) if at > frozen_at
                )
            finally:
                await asyncio.to_thread(cluster.signal, "kafka", victim, signal.SIGCONT)
            thawed_at = time.monotonic()
            deadline = thawed_at + 90
            after = await cluster.partitions(topic)
            while not all(sorted(p.isr) == sorted(p.replicas) for p in after):
                assert time.monotonic() < deadline, (
                    f"broker {victim} not back in every ISR: {after}"
                )
                await asyncio.sleep(0.2)
                after = await cluster.partitions(topic)
            rejoined_s = time.monotonic() - thawed_at
            await load.wait_acknowledged(100, within_s=60)  # and writes go on with it back
            # The longest stretch without an acknowledgment from just before the freeze on.
            times = sorted(at for at in load.acknowledged_at.values() if at > frozen_at - 1)
            paused, resumed = max(itertools.pairwise(times), key=lambda pair: pair[1] - pair[0])
            await load.stop()
            alive = all(command.process and command.process.poll() is None for command in commands)
            logged_before_retry = await read_all(cluster.bootstrap, topic)
            retried = await load.retry(set(load.failed) | set(load.unanswered))
            records = await read_all(cluster.bootstrap, topic)
    finally:
        for command in commands:
            command.stop()

    failed = load.failed
    assert alive
    assert all(p.leader != victim for p in during)
    assert not load.unanswered, load.unanswered
    assert {e["code"] for e in failed.values()} <= {"SERVICE_UNAVAILABLE"}, failed
    assert all(e["retriable"] is True for e in failed.values())
    outcome_table.record(
        FAULT,
        "while frozen",
        f"broker {victim} (leader of partitions {led}) frozen for {FROZEN_S:.0f} s; its "
        f"partitions had new leaders after {moved_s:.1f} s (session timeout "
        f"{SESSION_TIMEOUT_S:.0f} s); no write was acknowledged from {max(0.0, paused - frozen_at):.1f} s "
        f"to {resumed - frozen_at:.1f} s after the freeze began ({acked_while_frozen} while it "
        f"lasted); {len(failed)} failed with SERVICE_UNAVAILABLE, retriable; none unanswered; "
        "no service restarted",
    )

    assert all(p.leader >= 0 and sorted(p.isr) == sorted(p.replicas) for p in after)
    logged = {r.headers["ce_causationid"]: r.headers["ce_id"] for r in logged_before_retry}
    acked = load.acknowledged
    assert {cid: logged.get(cid) for cid in acked} == acked
    assert all("eventId" in answer for answer in retried.values()), retried
    updates = Counter(r.headers["ce_causationid"] for r in records if r.sequence > 1)
    assert updates == Counter(list(load.inputs))
    assert_gapless(records)
    outcome_table.record(
        FAULT,
        "after the thaw: no split brain, nothing lost or doubled",
        f"back in every ISR {rejoined_s:.1f} s after SIGCONT, one leader per partition; "
        f"{len(acked)} acknowledged mutations all in the log with their eventId; {len(retried)} "
        f"failed ones retried; each of the {len(load.inputs)} commandIds exactly once, "
        f"ce_sequence gapless for all {len(ids)} products",
    )
