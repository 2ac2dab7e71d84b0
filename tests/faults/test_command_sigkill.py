"""The command service SIGKILLed under concurrent write load, then started again.

A client whose mutation was in flight at the crash cannot know whether it was written; the
contract is that retrying with the same commandId settles it: the retry returns the original
answer if the event landed and appends it now if it did not, never both. So after the crash,
the restart and every client's retries, each commandId is in the log exactly once, every
acknowledged one with the eventId its client was given, and every product's ce_sequence is
still 1, 2, 3 … without a gap or a duplicate.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from tests.faults.outcome_table import OutcomeTable
from tests.support.kafka import assert_gapless, read_all
from tests.support.services import Service, create_products
from tests.support.workload import WriteLoad

FAULT = "Command service SIGKILLed under concurrent write load"


async def test_a_sigkilled_command_service_restarts_and_retries_never_duplicate(
    isolated_env: dict[str, str], kafka_bootstrap: str, outcome_table: OutcomeTable
) -> None:
    topic = isolated_env["EVENTS_TOPIC"]
    command = Service("command", isolated_env).start()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            ids = await create_products(http, command, 20)
            load = WriteLoad(http, command, ids, workers=32)
            load.start()
            await load.wait_acknowledged(300, within_s=60)
            command.kill()
            killed_at = time.monotonic()
            acked_at_kill = len(load.acknowledged)
            await asyncio.to_thread(command.start)
            restart_s = time.monotonic() - killed_at
            await load.wait_acknowledged(100, within_s=30)
            await load.stop()
            settled = await read_all(kafka_bootstrap, topic)  # nothing retried yet
            unacknowledged = set(load.failed) | set(load.unanswered)
            retried = await load.retry(unacknowledged)
            resent = await load.retry(load.acknowledged)
            records = await read_all(kafka_bootstrap, topic)
    finally:
        command.stop()

    assert not load.failed, load.failed  # a killed process answers nothing, it cannot refuse
    in_flight = {cid for cid, error in load.unanswered.items() if error != "ConnectError"}
    refused = set(load.unanswered) - in_flight
    logged = {r.headers["ce_causationid"]: r.headers["ce_id"] for r in records}
    acked = load.acknowledged
    assert {cid: logged.get(cid) for cid in acked} == acked
    outcome_table.record(
        FAULT,
        "acknowledged mutations are in the log with their eventId",
        f"{len(acked)} acknowledged ({acked_at_kill} before the kill, the rest after the "
        f"restart, which took {restart_s:.1f} s), {len(acked)} in the log, 0 lost",
    )

    landed = {
        r.headers["ce_causationid"]: r.headers["ce_id"]
        for r in settled
        if r.headers["ce_causationid"] in unacknowledged
    }
    assert set(landed) <= in_flight  # only a request the process had received can have landed
    assert all("eventId" in answer for answer in retried.values()), retried
    assert {cid: retried[cid]["eventId"] for cid in landed} == landed
    outcome_table.record(
        FAULT,
        "unacknowledged mutations retried with their commandId",
        f"{len(in_flight)} in flight at the kill ({len(landed)} had landed: the retry answered "
        f"their original eventId; {len(in_flight) - len(landed)} had not: written once on "
        f"retry); {len(refused)} refused while the service was down: written once on retry",
    )

    assert {cid: answer["eventId"] for cid, answer in resent.items()} == acked
    updates = Counter(r.headers["ce_causationid"] for r in records if r.sequence > 1)
    assert updates == Counter(list(load.inputs))
    products = assert_gapless(records)
    assert set(products) == set(ids)
    outcome_table.record(
        FAULT,
        "each commandId exactly once; ce_sequence per product",
        f"{len(load.inputs)} commandIds, each exactly once in the log (acknowledged ones "
        f"resent too: original eventIds, nothing appended); {len(ids)} products gapless 1..n",
    )
