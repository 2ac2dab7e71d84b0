"""Kafka restarted under write load, with the projector reading from the same broker.

The log is the truth, so an outage of it may refuse writes but never misreport them: a mutation
answered with success is in the log, one answered "nothing was written" is not, one answered
"outcome unknown" is settled by retrying it with its commandId. After the broker is back, writes
succeed again without restarting anything, and the read models are again the fold of the log.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from tests.faults.outcome_table import OutcomeTable
from tests.support.kafka import assert_gapless, fold, read_all
from tests.support.private_infra import PrivateKafka
from tests.support.read_models import assert_read_models_equal_fold, wait_for_versions
from tests.support.services import Service, create_products
from tests.support.workload import WriteLoad

FAULT = "Kafka broker restarted under write load"
OUTAGE_S = 6.0


async def test_a_kafka_restart_under_write_load_loses_nothing_and_recovers(
    private_kafka: PrivateKafka,
    isolated_env: dict[str, str],
    db: AsyncDatabase[dict[str, Any]],
    outcome_table: OutcomeTable,
) -> None:
    env = {**isolated_env, "KAFKA_BOOTSTRAP_SERVERS": private_kafka.bootstrap}
    topic = env["EVENTS_TOPIC"]
    command = Service("command", env).start()
    projector = Service("projector", env).start()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            ids = await create_products(http, command, 10)
            load = WriteLoad(http, command, ids, workers=8)
            load.start()
            await load.wait_acknowledged(50, within_s=30)
            outage_began = time.monotonic()
            await asyncio.to_thread(private_kafka.stop)
            await asyncio.sleep(OUTAGE_S)
            readiness = await asyncio.to_thread(command.ready, 10)
            await asyncio.to_thread(private_kafka.start)
            down_s = time.monotonic() - outage_began
            recovered_s = await load.wait_acknowledged(20, within_s=30)
            await load.stop()
            command.wait_ready(30)
            logged_before_retry = await read_all(private_kafka.bootstrap, topic)
            retried = await load.retry(load.failed)
            records = await read_all(private_kafka.bootstrap, topic)
            states = fold(records)
            products = {pid: state for pid, state in states.items() if state is not None}
            await wait_for_versions(db, {pid: p.version for pid, p in products.items()})
            projector_readiness = projector.ready()
            projector_alive = projector.process is not None and projector.process.poll() is None
            dead = await read_all(private_kafka.bootstrap, f"{topic}.dlq")
    finally:
        command.stop()
        projector.stop()

    failed = load.failed
    assert readiness[0] == 503 and readiness[1]["checks"]["kafka"] is False, readiness
    assert failed, "the outage produced no errors at all"
    assert not load.unanswered  # the service itself stayed up and answered every request
    assert {e["code"] for e in failed.values()} == {"SERVICE_UNAVAILABLE"}
    assert all(e["retriable"] is True for e in failed.values())
    definite = {cid for cid, e in failed.items() if "commandId" not in e}  # "nothing was written"
    unknown = set(failed) - definite  # "outcome unknown; retry with the same commandId"
    outcome_table.record(
        FAULT,
        "mutations during the outage",
        f"{len(failed)} failed with SERVICE_UNAVAILABLE, retriable: {len(definite)} 'nothing "
        f"was written', {len(unknown)} 'outcome unknown'; command service /ready 503; writes "
        f"succeeded again {recovered_s:.1f} s after the broker was back (down {down_s:.1f} s), "
        "no restart",
    )

    logged = {r.headers["ce_causationid"]: r.headers["ce_id"] for r in logged_before_retry}
    acked = load.acknowledged
    assert {cid: logged.get(cid) for cid in acked} == acked
    outcome_table.record(
        FAULT,
        "acknowledged mutations are in the log (commandId and eventId)",
        f"{len(acked)} acknowledged, {len(acked)} in the log, 0 lost",
    )
    assert not definite & set(logged)
    creates = {r.headers["ce_causationid"] for r in logged_before_retry if r.sequence == 1}
    assert set(logged) - creates <= set(acked) | unknown
    landed = unknown & set(logged)
    outcome_table.record(
        FAULT,
        "failed mutations wrote nothing unless their outcome was unknown",
        f"{len(definite)} definite failures, 0 in the log; {len(unknown)} unknown, "
        f"{len(landed)} of them had landed; nothing else in the log",
    )

    assert all("eventId" in answer for answer in retried.values()), retried
    assert {cid: retried[cid]["eventId"] for cid in landed} == {cid: logged[cid] for cid in landed}
    updates = Counter(r.headers["ce_causationid"] for r in records if r.sequence > 1)
    assert updates == Counter(list(load.inputs))
    assert_gapless(records)
    outcome_table.record(
        FAULT,
        "failed mutations retried with their commandId",
        f"{len(retried)} retried: {len(landed)} answered with their original event, "
        f"{len(retried) - len(landed)} appended now; each of the {len(load.inputs)} commandIds "
        f"is in the log exactly once; ce_sequence gapless 1..n for all {len(products)} products",
    )

    assert projector_alive and projector_readiness[0] == 200
    await assert_read_models_equal_fold(db, states, len(records))
    assert dead == []
    outcome_table.record(
        FAULT,
        "projector on the restarted broker: read models = fold of the log",
        f"no restart needed; {len(records)} events: products, history and category statistics "
        "equal the fold; 0 records in the dead-letter topic",
    )
