"""The projector SIGKILLed five times while it works through a burst of events.

The burst is written in five parts; after each part a projector starts and is killed at a random
point of working through it, so every kill cuts real work short: mid-transaction, or between the
MongoDB commit and the Kafka offset commit. Whatever it interrupted, the next projector must end
with the read models equal to the fold of the log: a batch applied but not committed is
redelivered and skipped by the version guard, one not applied is applied, and no good record is
ever mistaken for poison and dead-lettered.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from tests.faults.outcome_table import OutcomeTable
from tests.support.kafka import fold, read_all
from tests.support.producing import produce
from tests.support.read_models import assert_read_models_equal_fold, wait_for_versions
from tests.support.services import Service
from tests.support.strategies import write_side
from tests.support.workload import burst

FAULT = "Projector SIGKILLed 5 times during a burst"
KILLS = 5
CHUNK = 200


def metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


# Well below MongoDB's 60 s transaction lifetime: a restarted projector that waits for its dead
# predecessor's open transaction to expire is too slow.
PROGRESS_WITHIN_S = 20.0


async def until_applied(
    db: AsyncDatabase[dict[str, Any]], events: int, projector: Service
) -> float:
    """Until `events` events are in the history; the seconds that took."""
    started = time.monotonic()
    while await db.product_history.count_documents({}) < events:
        assert projector.process is not None and projector.process.poll() is None, projector.tail()
        waited = time.monotonic() - started
        assert waited < PROGRESS_WITHIN_S, f"{events} events not applied in {waited:.0f} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_sigkills_of_the_projector_during_a_burst_leave_the_fold(
    isolated_env: dict[str, str],
    db: AsyncDatabase[dict[str, Any]],
    outcome_table: OutcomeTable,
    kafka_bootstrap: str,
) -> None:
    env = {**isolated_env, "PROJECTOR_MAX_BATCH": "100"}
    topic = env["EVENTS_TOPIC"]
    log, _ = write_side(burst(products=300, events=5000, seed=3))
    part = -(-len(log) // KILLS)
    parts = [log[start : start + part] for start in range(0, len(log), part)]
    projector = Service("projector", env)
    rng = random.Random(5)
    at_kill: list[tuple[int, int]] = []  # (events applied, events written) when a kill came
    written = 0
    slowest = 0.0  # from a start to the first kill threshold, Python's start-up included
    try:
        for events in parts:
            for start in range(0, len(events), CHUNK):
                await produce(env, events[start : start + CHUNK])
            written += len(events)
            # Killed at a random point of working through the part just written.
            threshold = written - len(events) + int(rng.uniform(0.05, 0.5) * len(events))
            projector.start(wait_ready=False)
            slowest = max(slowest, await until_applied(db, threshold, projector))
            projector.kill()
            at_kill.append((await db.product_history.count_documents({}), written))
        restarted = time.monotonic()
        projector.start(wait_ready=False)
        records = await read_all(kafka_bootstrap, topic)
        states = fold(records)
        products = {pid: state for pid, state in states.items() if state is not None}
        await wait_for_versions(
            db, {pid: p.version for pid, p in products.items()}, within_s=PROGRESS_WITHIN_S
        )
        caught_up_s = time.monotonic() - restarted
        projector.wait_ready()
        readiness = projector.ready()
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{projector.url}/metrics")).text
    finally:
        projector.stop()

    assert len(parts) == len(at_kill) == KILLS
    assert len(records) == len(log)
    assert all(applied < written for applied, written in at_kill)  # each kill cut work short
    await assert_read_models_equal_fold(db, states, len(records))
    assert readiness[0] == 200
    outcome_table.record(
        FAULT,
        "read models = fold of the log after the last restart",
        f"{len(records)} events over {len(products)} products; events applied/written when "
        f"each kill came: {', '.join(f'{a}/{w}' for a, w in at_kill)}; the last projector skipped "
        f"{metric(metrics, 'catalog_projector_events_skipped_total'):.0f} redelivered events; "
        "products, history and category statistics equal the fold",
    )
    assert slowest < PROGRESS_WITHIN_S and caught_up_s < PROGRESS_WITHIN_S  # as waited for
    aborted = re.findall(
        r"aborted (\d+) transaction\(s\) a killed predecessor", projector.tail(10**6)
    )
    outcome_table.record(
        FAULT,
        "a restarted projector goes on at once",
        f"it aborted {sum(map(int, aborted))} transaction(s) left open by killed predecessors "
        f"(at {len(aborted)} of {KILLS + 1} starts) instead of waiting up to 60 s for MongoDB to "
        f"expire them; slowest start to kill threshold {slowest:.1f} s, last restart caught "
        f"up in {caught_up_s:.1f} s (bound {PROGRESS_WITHIN_S:.0f} s)",
    )
    dead = await read_all(kafka_bootstrap, f"{topic}.dlq")
    assert dead == []
    assert metric(metrics, "catalog_projector_gaps_total") == 0
    outcome_table.record(FAULT, "records in the dead-letter topic; version gaps reported", "0; 0")
