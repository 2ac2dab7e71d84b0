"""Cluster: the MongoDB primary SIGKILLed while the projector projects and clients query.

The two survivors elect a new primary. Everything the projector had committed was acknowledged by
a majority (w: "majority"), so the new primary has it: the projector only redoes the batch that
was in flight and goes on by itself. During the election, queries must answer SERVICE_UNAVAILABLE
with retriable: true (never a 5xx, never a hang), and succeed again once there is a primary. A
subscription stays open through the election (its change stream resumes on the new primary) and
shows each product's versions in increasing order: it only ever sees majority-committed changes,
so nothing it showed can be rolled back.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
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
from tests.support.subscriber import Subscriber
from tests.support.workload import burst

FAULT = "Cluster: MongoDB primary SIGKILLed during projection and queries"
# Server selection gives up after 5 s and pymongo retries a read once: 10 s, plus slack.
QUERY_BOUND_S = 14.0
QUERIES = {
    "product": "query($id: ID!) { product(id: $id) { id version } }",
    "product with minVersion": "query($id: ID!) { product(id: $id, minVersion: 1) { id } }",
    "products": "{ products(first: 5) { totalCount edges { node { id } } } }",
    "productHistory": "query($id: ID!) { productHistory(id: $id) { version } }",
    "categories": "{ categories { category productCount } }",
}


@dataclass(frozen=True)
class Answer:
    sent_at: float
    seconds: float
    status: int
    body: dict[str, Any]

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.body.get("errors")
        return errors[0]["extensions"] if errors else None


async def keep_querying(
    http: httpx.AsyncClient, url: str, product_id: str, answers: list[Answer], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        for text in QUERIES.values():
            started = time.monotonic()
            response = await http.post(url, json={"query": text, "variables": {"id": product_id}})
            answers.append(
                Answer(started, time.monotonic() - started, response.status_code, response.json())
            )
        await asyncio.sleep(0.05)


async def test_a_primary_failover_costs_time_never_data(
    cluster: NativeCluster,
    cluster_env: dict[str, str],
    cluster_db: AsyncDatabase[dict[str, Any]],
    outcome_table: OutcomeTable,
) -> None:
    # Small batches: the projector is still working through the log when the primary dies.
    env = {**cluster_env, "PROJECTOR_MAX_BATCH": "10"}
    topic = env["EVENTS_TOPIC"]
    log, _ = write_side(burst(products=100, events=3000, seed=21))
    before, during = log[:1500], log[1500:]
    await produce(env, before)
    projector = Service("projector", env).start()
    query = Service("query", env).start()
    subscriber = Subscriber(query.graphql_url.replace("http", "ws", 1))
    listening = asyncio.create_task(subscriber.run())
    answers: list[Answer] = []
    stop = asyncio.Event()
    try:
        await asyncio.wait_for(subscriber.subscribed.wait(), 10)
        async with httpx.AsyncClient(timeout=30) as http:
            clients = [
                asyncio.create_task(
                    keep_querying(http, query.graphql_url, log[0].product_id, answers, stop)
                )
                for _ in range(3)
            ]

            async def more_events() -> None:
                for start in range(0, len(during), 100):
                    await produce(env, during[start : start + 100])
                    await asyncio.sleep(0.2)

            producing = asyncio.create_task(more_events())
            # Killed while the projector works on the events that keep coming.
            deadline = time.monotonic() + 60
            while await cluster_db.product_history.count_documents({}) < len(before) + 200:
                assert time.monotonic() < deadline, "the projector did not get going in 60 s"
                await asyncio.sleep(0.05)
            victim = await asyncio.to_thread(cluster.mongo_primary)
            assert victim is not None
            killed_at = time.monotonic()
            await asyncio.to_thread(cluster.signal, "mongo", victim, signal.SIGKILL)
            primary = None
            while primary in (None, victim):
                assert time.monotonic() - killed_at < 60, "no new primary within 60 s"
                await asyncio.sleep(0.1)
                primary = await asyncio.to_thread(cluster.mongo_primary)
            elected_s = time.monotonic() - killed_at
            await producing

            records = await read_all(cluster.bootstrap, topic)
            states = fold(records)
            products = {pid: state for pid, state in states.items() if state is not None}
            await wait_for_versions(cluster_db, {pid: p.version for pid, p in products.items()})
            caught_up_s = time.monotonic() - killed_at
            await asyncio.sleep(1)  # a last round of queries on the healed read models
            stop.set()
            await asyncio.gather(*clients)
            projector_alive = projector.process is not None and projector.process.poll() is None
            query_alive = query.process is not None and query.process.poll() is None
            dead = await read_all(cluster.bootstrap, f"{topic}.dlq")
    finally:
        stop.set()
        listening.cancel()
        projector.stop()
        query.stop()
    rejoined_s = await asyncio.to_thread(cluster.heal)

    assert projector_alive and query_alive
    assert all(a.status < 500 for a in answers), [a for a in answers if a.status >= 500]
    failed = [a for a in answers if a.error is not None]
    assert failed, "the election went unnoticed: no query failed"
    assert [a.error for a in failed] == [{"code": "SERVICE_UNAVAILABLE", "retriable": True}] * len(
        failed
    )
    slowest = max(a.seconds for a in answers)
    assert slowest < QUERY_BOUND_S
    last_failure = max(a.sent_at + a.seconds for a in failed)
    after = [a for a in answers if a.sent_at > last_failure]
    assert after and all(a.error is None for a in after)
    outcome_table.record(
        FAULT,
        "queries during the election: " + ", ".join(QUERIES),
        f"new primary elected {elected_s:.1f} s after the kill; {len(answers)} queries, all HTTP "
        f"< 500: {len(failed)} answered SERVICE_UNAVAILABLE, retriable (slowest answer "
        f"{slowest:.1f} s, bound {QUERY_BOUND_S:.0f} s), the rest succeeded; the last failure "
        f"came {last_failure - killed_at:.1f} s after the kill, all {len(after)} queries after "
        "it succeeded",
    )

    await assert_read_models_equal_fold(cluster_db, states, len(records))
    assert len(records) == len(log)
    assert dead == []
    outcome_table.record(
        FAULT,
        "projector: resumes on the new primary by itself; read models = fold of the log",
        f"no restart; caught up with all {len(records)} events {caught_up_s:.1f} s after the "
        f"kill; products, history and category statistics equal the fold; 0 records in the "
        f"dead-letter topic; the killed member was back as a secondary {rejoined_s:.1f} s "
        "after its restart",
    )

    seen = subscriber.versions()
    assert subscriber.ended is None, subscriber.ended  # still open when we left
    assert all(versions == sorted(set(versions)) for versions in seen.values())
    assert all(max(versions) <= products[pid].version for pid, versions in seen.items())
    early = [c for c in subscriber.changes if c.at < killed_at]
    late = [c for c in subscriber.changes if c.at > killed_at + elected_s]
    assert early and late, "the subscription heard nothing before the kill or after the election"
    outcome_table.record(
        FAULT,
        "a subscription open through the election",
        f"stayed open; {len(subscriber.changes)} changes of {len(seen)} products ({len(early)} "
        f"before the kill, {len(late)} after the election), each product's versions strictly "
        "increasing: nothing shown was taken back",
    )
