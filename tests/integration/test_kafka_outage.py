"""A Kafka outage under write load: clear retriable errors, nothing half-written, and recovery.

The broker here is a private one started from the native recipe, because this test stops and
restarts it; the shared test broker stays untouched for the other tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.infra import NATIVE, ROOT
from tests.support.kafka import by_product, read_all
from tests.support.services import Service, create_products, free_port, graphql

UPDATE = "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { id version eventId } }"


@pytest.fixture
def private_kafka() -> Iterator[tuple[str, dict[str, str]]]:
    run_dir = ROOT / ".run" / f"test-outage-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "RUN_DIR": str(run_dir),
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    tools = ROOT / ".run" / "test" / "tools"  # reuse the jars the shared test broker fetched
    if tools.exists():
        run_dir.mkdir(parents=True)
        (run_dir / "tools").symlink_to(tools)
    subprocess.run([NATIVE / "kafka.sh", "start"], env=env, check=True, capture_output=True)
    try:
        yield f"127.0.0.1:{env['KAFKA_PORT']}", env
    finally:
        subprocess.run([NATIVE / "kafka.sh", "stop"], env=env, check=False, capture_output=True)
        shutil.rmtree(run_dir, ignore_errors=True)


async def test_writes_during_an_outage_fail_cleanly_and_nothing_is_lost(
    private_kafka: tuple[str, dict[str, str]], isolated_env: dict[str, str]
) -> None:
    bootstrap, kafka_env = private_kafka
    command = Service("command", {**isolated_env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}).start()
    outcomes: dict[str, Any] = {}  # commandId -> eventId, or the error's extensions
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            ids = await create_products(http, command, 10)
            stop = asyncio.Event()

            async def writer(worker: int) -> None:
                i = 0
                while not stop.is_set():
                    command_id = f"w{worker}-{i}"
                    body = await graphql(
                        http,
                        command.graphql_url,
                        UPDATE,
                        {
                            "i": {
                                "id": ids[(worker + i) % 10],
                                "name": f"{worker}-{i}",
                                "commandId": command_id,
                            }
                        },
                    )
                    if "errors" in body:
                        outcomes[command_id] = body["errors"][0]["extensions"]
                        await asyncio.sleep(0.2)
                    else:
                        outcomes[command_id] = body["data"]["updateProduct"]["eventId"]
                    i += 1

            load = [asyncio.create_task(writer(w)) for w in range(8)]
            await asyncio.sleep(1.0)
            await asyncio.to_thread(
                subprocess.run,
                [NATIVE / "kafka.sh", "stop"],
                env=kafka_env,
                check=True,
                capture_output=True,
            )
            await asyncio.sleep(6.0)
            assert command.ready()[0] == 503
            await asyncio.to_thread(
                subprocess.run,
                [NATIVE / "kafka.sh", "start"],
                env=kafka_env,
                check=True,
                capture_output=True,
            )
            acked_before = sum(1 for o in outcomes.values() if isinstance(o, str))
            for _ in range(300):  # until writes succeed again
                await asyncio.sleep(0.1)
                if sum(1 for o in outcomes.values() if isinstance(o, str)) > acked_before + 20:
                    break
            stop.set()
            await asyncio.gather(*load)
        command.wait_ready(30)
    finally:
        command.stop()

    errors = {cid: o for cid, o in outcomes.items() if isinstance(o, dict)}
    assert errors, "the outage produced no errors at all"
    assert {e["code"] for e in errors.values()} == {"SERVICE_UNAVAILABLE"}
    assert all(e["retriable"] is True for e in errors.values())
    records = await read_all(bootstrap, isolated_env["EVENTS_TOPIC"])
    logged = {r.headers["ce_causationid"]: r.headers["ce_id"] for r in records}
    acked = {cid: event for cid, event in outcomes.items() if isinstance(event, str)}
    assert all(
        logged.get(cid) == event for cid, event in acked.items()
    )  # every success is in the log
    definite = {cid for cid, e in errors.items() if "commandId" not in e}  # "nothing was written"
    assert not definite & set(logged)
    unknown = {cid for cid, e in errors.items() if "commandId" in e}
    assert (
        set(logged) - set(acked) - {r.headers["ce_causationid"] for r in records if r.sequence == 1}
        <= unknown
    )
    for key, events in by_product(records).items():
        assert [e.sequence for e in events] == list(range(1, len(events) + 1)), key
