"""The projector as a real process against real Kafka and MongoDB: poison and redelivery.

Crashes of the projector are in tests/faults/test_projector_sigkill.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.envelope import to_record
from tests.support.kafka import read_all
from tests.support.producing import produce
from tests.support.read_models import assert_read_models_equal_fold, wait_for_versions
from tests.support.services import Service
from tests.support.strategies import write_side
from tests.support.workload import burst


async def test_poison_records_go_to_the_dead_letter_topic_and_good_ones_still_apply(
    isolated_env: dict[str, str], db: AsyncDatabase[dict[str, Any]], kafka_bootstrap: str
) -> None:
    log, states = write_side(burst(products=2, events=4))
    key, value, headers = to_record(log[0])
    unknown = [(n, b"catalog.ProductRenamed.v1" if n == "ce_type" else v) for n, v in headers]
    poison = [(key, b"{not json", headers), (key, value, unknown), (key, value, [])]
    await produce(isolated_env, log[:1], raw=poison)
    await produce(isolated_env, log[1:])
    projector = Service("projector", isolated_env).start()
    try:
        await wait_for_versions(db, {pid: s.version for pid, s in states.items()})
        await assert_read_models_equal_fold(db, states, len(log))
        dead = await read_all(kafka_bootstrap, isolated_env["EVENTS_TOPIC"] + ".dlq")
        reasons = sorted(r.headers["dlq_reason"].split(":")[0] for r in dead)
        assert reasons == [
            "missing headers",
            "unknown ce_type 'catalog.ProductRenamed.v1'",
            "value is not JSON",
        ]
        originals = await read_all(kafka_bootstrap, isolated_env["EVENTS_TOPIC"])
        poisoned = {
            (r.partition, r.offset)
            for r in originals
            if r.value == b"{not json"
            or r.headers.get("ce_type", "").endswith("Renamed.v1")
            or not r.headers
        }
        assert {
            (int(r.headers["dlq_original_partition"]), int(r.headers["dlq_original_offset"]))
            for r in dead
        } == poisoned
        assert all(r.headers["dlq_original_topic"] == isolated_env["EVENTS_TOPIC"] for r in dead)
        assert projector.ready()[0] == 200
    finally:
        projector.stop()


async def test_consuming_the_whole_log_again_changes_nothing(
    isolated_env: dict[str, str], db: AsyncDatabase[dict[str, Any]]
) -> None:
    log, states = write_side(burst(products=50, events=400, seed=5))
    await produce(isolated_env, log)
    first = Service("projector", isolated_env).start()
    try:
        await wait_for_versions(db, {pid: s.version for pid, s in states.items()})
    finally:
        first.stop()
    before = {
        name: [d async for d in db[name].find().sort("_id")]
        for name in ("products", "product_history", "category_stats")
    }
    again = Service(
        "projector",
        {**isolated_env, "PROJECTOR_GROUP_ID": "another-group", "PROJECTOR_INSTANCE_ID": "another"},
    ).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            metrics = await asyncio.to_thread(
                lambda: __import__("httpx").get(f"{again.url}/metrics").text
            )
            skipped = [
                line
                for line in metrics.splitlines()
                if line.startswith("catalog_projector_events_skipped_total")
            ]
            if skipped and float(skipped[0].split()[-1]) >= len(log):
                break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError("the second projector did not re-read the whole log")
        assert "catalog_projector_events_applied_total 0.0" in metrics
    finally:
        again.stop()
    after = {
        name: [d async for d in db[name].find().sort("_id")]
        for name in ("products", "product_history", "category_stats")
    }
    assert after == before
    await assert_read_models_equal_fold(db, states, len(log))
