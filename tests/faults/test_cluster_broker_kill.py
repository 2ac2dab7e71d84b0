"""Cluster: the broker leading the written partitions SIGKILLed under concurrent write load.

With replication factor 3, min.insync.replicas=2 and acks=all, an acknowledged append is on two
brokers before the client hears of it, so losing any one broker loses nothing acknowledged. The
writes it interrupts must fail truthfully (SERVICE_UNAVAILABLE, retriable; "nothing was written"
or "outcome unknown") and be written exactly once on retry, and writing must resume by itself
once the controller has moved the dead broker's partitions to their in-sync followers.
"""

from __future__ import annotations

import asyncio
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

FAULT = "Cluster: leader broker SIGKILLed under write load"


async def test_killing_the_leader_broker_loses_no_acknowledged_write(
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
            leader_of = {p.partition: p.leader for p in await cluster.partitions(topic)}
            # The broker leading the partitions of most of the products being written.
            victim, _ = Counter(leader_of[partition_of[pid]] for pid in ids).most_common(1)[0]
            hit = {pid for pid in ids if leader_of[partition_of[pid]] == victim}
            pids = [command.process.pid for command in commands if command.process]

            load = WriteLoad(http, commands, ids, workers=8)
            load.start()
            await load.wait_acknowledged(100, within_s=60)
            killed_at = time.monotonic()
            await asyncio.to_thread(cluster.signal, "kafka", victim, signal.SIGKILL)
            await cluster.wait_for_leaders(topic, without=victim)
            moved_s = time.monotonic() - killed_at

            def resumed() -> bool:  # a write to a partition the dead broker led was acknowledged
                return any(
                    at > killed_at and load.inputs[cid]["id"] in hit
                    for cid, at in list(load.acknowledged_at.items())
                )

            deadline = time.monotonic() + 60
            while not resumed():
                assert time.monotonic() < deadline, "writes did not resume within 60 s"
                await asyncio.sleep(0.05)
            resumed_s = time.monotonic() - killed_at
            await load.wait_acknowledged(100, within_s=60)
            await load.stop()
            still = [command.process.pid for command in commands if command.process]
            alive = all(command.process and command.process.poll() is None for command in commands)
            logged_before_retry = await read_all(cluster.bootstrap, topic)
            retried = await load.retry(set(load.failed) | set(load.unanswered))
            records = await read_all(cluster.bootstrap, topic)
    finally:
        for command in commands:
            command.stop()
    rejoined_s = await asyncio.to_thread(cluster.heal)

    failed = load.failed
    assert alive and still == pids  # no service was restarted, by us or by itself
    assert not load.unanswered, load.unanswered  # every request was answered
    assert {e["code"] for e in failed.values()} <= {"SERVICE_UNAVAILABLE"}, failed
    assert all(e["retriable"] is True for e in failed.values())
    definite = {cid for cid, e in failed.items() if "commandId" not in e}
    unknown = set(failed) - definite
    outcome_table.record(
        FAULT,
        "mutations while the broker's partitions moved",
        f"broker {victim} led the partitions of {len(hit)} of the {len(ids)} products written; "
        f"its partitions had new leaders {moved_s:.1f} s after the kill, writes to them were "
        f"acknowledged again after {resumed_s:.1f} s, no service restarted; {len(failed)} "
        f"failed with SERVICE_UNAVAILABLE, retriable ({len(definite)} 'nothing was written', "
        f"{len(unknown)} 'outcome unknown'), none unanswered",
    )

    logged = {r.headers["ce_causationid"]: r.headers["ce_id"] for r in logged_before_retry}
    acked = load.acknowledged
    assert {cid: logged.get(cid) for cid in acked} == acked
    assert not definite & set(logged)
    creates = {r.headers["ce_causationid"] for r in logged_before_retry if r.sequence == 1}
    assert set(logged) - creates <= set(acked) | unknown
    landed = unknown & set(logged)
    outcome_table.record(
        FAULT,
        "acknowledged mutations are in the log (commandId and eventId); failed ones are not "
        "unless their outcome was unknown",
        f"{len(acked)} acknowledged, {len(acked)} in the log, 0 lost; {len(definite)} definite "
        f"failures, 0 in the log; {len(unknown)} unknown, {len(landed)} of them had landed",
    )

    assert all("eventId" in answer for answer in retried.values()), retried
    assert {cid: retried[cid]["eventId"] for cid in landed} == {cid: logged[cid] for cid in landed}
    updates = Counter(r.headers["ce_causationid"] for r in records if r.sequence > 1)
    assert updates == Counter(list(load.inputs))
    assert_gapless(records)
    outcome_table.record(
        FAULT,
        "failed mutations retried with their commandId; the broker restarted",
        f"{len(retried)} retried, {len(landed)} answered with their original event; each of the "
        f"{len(load.inputs)} commandIds in the log exactly once, ce_sequence gapless for all "
        f"{len(ids)} products; the restarted broker was back in every ISR {rejoined_s:.1f} s "
        "after its start",
    )
