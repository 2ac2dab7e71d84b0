"""Cluster: one of two query instances killed while clients query and subscribe on both.

Query instances share nothing but MongoDB, so losing one must cost only its own connections: the
other keeps answering every query. A subscription lives on the instance it was opened on, so it
ends with it. What matters is how: promptly, in a way a client's WebSocket library reports as a
closed connection (never a socket left hanging), so that the client reconnects to the other
instance, subscribes again and gets the changes from then on. A SIGKILLed process cannot say
goodbye (the kernel closes its sockets: no close frame, the client sees code 1006); a stopped one
(SIGTERM) closes each subscription with 1012, "service restart", the code for "reconnect".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from tests.faults.outcome_table import OutcomeTable
from tests.support.cluster import NativeCluster
from tests.support.kafka import fold, read_all
from tests.support.producing import produce
from tests.support.read_models import wait_for_versions
from tests.support.services import Service
from tests.support.strategies import write_side
from tests.support.subscriber import Subscriber
from tests.support.workload import burst

FAULT = "Cluster: one of two query instances killed"
SUBSCRIBERS = 3
CLOSED_WITHIN_S = 5.0
QUERY = "{ products(first: 5) { totalCount edges { node { id version } } } }"


def ws_url(query: Service) -> str:
    return query.graphql_url.replace("http://", "ws://", 1)


async def keep_querying(
    http: httpx.AsyncClient, query: Service, answers: list[tuple[int, Any]], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        response = await http.post(query.graphql_url, json={"query": QUERY})
        answers.append((response.status_code, response.json()))
        await asyncio.sleep(0.02)


async def subscribed(url: str, count: int) -> tuple[list[Subscriber], list[asyncio.Task[None]]]:
    subscribers = [Subscriber(url) for _ in range(count)]
    tasks = [asyncio.create_task(s.run()) for s in subscribers]
    await asyncio.wait_for(asyncio.gather(*(s.subscribed.wait() for s in subscribers)), 15)
    return subscribers, tasks


async def until_ended(subscribers: Sequence[Subscriber], since: float) -> float:
    """Until every subscriber's connection ended; the seconds from `since` to the last end."""
    deadline = time.monotonic() + 30
    while not all(s.ended for s in subscribers):
        assert time.monotonic() < deadline, [s.ended for s in subscribers]
        await asyncio.sleep(0.02)
    return max(s.ended[2] for s in subscribers if s.ended) - since


async def until_heard(subscribers: Sequence[Subscriber], since: float) -> None:
    """Until every subscriber got a change that arrived after `since`."""
    deadline = time.monotonic() + 30
    while not all(any(c.at > since for c in s.changes) for s in subscribers):
        assert time.monotonic() < deadline, "a reconnected subscriber heard nothing in 30 s"
        await asyncio.sleep(0.05)


async def test_the_other_instance_keeps_answering_and_subscribers_can_move_to_it(
    cluster: NativeCluster,
    cluster_env: dict[str, str],
    cluster_db: AsyncDatabase[dict[str, Any]],
    outcome_table: OutcomeTable,
) -> None:
    env = cluster_env
    topic = env["EVENTS_TOPIC"]
    log, _ = write_side(burst(products=50, events=3000, seed=41))
    await produce(env, log[:200])
    projector = Service("projector", env).start()
    first, second = Service("query", env).start(), Service("query", env).start()
    stop, writing = asyncio.Event(), asyncio.Event()
    answers: list[tuple[int, Any]] = []
    tasks: list[asyncio.Task[None]] = []

    async def more_events() -> None:  # changes for the subscribers to hear, all along
        for start in range(200, len(log), 50):
            await produce(env, log[start : start + 50])
            writing.set()
            await asyncio.sleep(0.2)

    try:
        async with httpx.AsyncClient(timeout=30) as http:
            on_first, t1 = await subscribed(ws_url(first), SUBSCRIBERS)
            on_second, t2 = await subscribed(ws_url(second), SUBSCRIBERS)
            tasks += [*t1, *t2, asyncio.create_task(keep_querying(http, second, answers, stop))]
            producing = asyncio.create_task(more_events())
            await writing.wait()
            await until_heard([*on_first, *on_second], time.monotonic() - 60)

            first.kill()  # SIGKILL
            killed_at = time.monotonic()
            killed_closed_s = await until_ended(on_first, killed_at)
            moved, t3 = await subscribed(ws_url(second), SUBSCRIBERS)
            tasks += t3
            await until_heard(moved, time.monotonic())
            answered_alone = len(answers)

            first.start()  # back, and now the other one goes, cleanly
            tasks.append(asyncio.create_task(keep_querying(http, first, answers, stop)))
            stopping_at = time.monotonic()
            await asyncio.to_thread(second.stop)  # SIGTERM
            stopped_closed_s = await until_ended([*on_second, *moved], stopping_at)
            back, t4 = await subscribed(ws_url(first), SUBSCRIBERS)
            tasks += t4
            await until_heard(back, time.monotonic())

            await producing
            records = await read_all(cluster.bootstrap, topic)
            products = {pid: s for pid, s in fold(records).items() if s is not None}
            await wait_for_versions(cluster_db, {pid: p.version for pid, p in products.items()})
            await asyncio.sleep(1)  # the last changes reach the subscribers
            stop.set()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        projector.stop()
        first.stop()
        second.stop()

    assert all(status == 200 and "errors" not in body for status, body in answers), [
        a for a in answers if a[0] != 200 or "errors" in a[1]
    ]
    assert killed_closed_s < CLOSED_WITHIN_S
    assert [s.ended[:2] for s in on_first if s.ended] == [("closed", None)] * SUBSCRIBERS
    outcome_table.record(
        FAULT,
        "SIGKILL of one instance: the other's queries; subscriptions on the killed one",
        f"the other answered all {answered_alone} queries sent to it until then without an "
        f"error; the killed one's {SUBSCRIBERS} subscriptions saw their connection closed "
        f"within {killed_closed_s:.2f} s (no close frame: code 1006), reconnected to the "
        "other instance and received the changes from then on",
    )

    assert stopped_closed_s < CLOSED_WITHIN_S
    ended = [s.ended[:2] for s in [*on_second, *moved] if s.ended]
    assert ended == [("closed", 1012)] * (2 * SUBSCRIBERS)
    assert all(status == 200 and "errors" not in body for status, body in answers)
    for subscriber in [*on_first, *on_second, *moved, *back]:
        assert all(v == sorted(set(v)) for v in subscriber.versions().values())
        assert all(max(v) <= products[pid].version for pid, v in subscriber.versions().items())
    final = {pid: p.version for pid, p in products.items()}
    assert all(max(v) == final[pid] for s in back for pid, v in s.versions().items())
    outcome_table.record(
        FAULT,
        "SIGTERM of the other (after the first was back)",
        f"its {2 * SUBSCRIBERS} subscriptions were closed with 1012 (service restart) within "
        f"{stopped_closed_s:.2f} s and resubscribed on the restarted instance; {len(answers)} "
        "queries over the whole test, all answered without an error; every subscriber saw each "
        "product's versions in increasing order, and the last ones it saw equal the fold",
    )
