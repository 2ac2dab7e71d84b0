"""QUERY_WORKERS > 1: the query service as several processes on one port (uvicorn's workers),
each with its own change feed, and none outliving the supervisor that started them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from services.projector.writer import ReadModelWriter
from tests.query.events import created, new_id, updated
from tests.support.services import Service

WORKERS = 2
WAITS = 40
PRODUCT = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { id version } }"


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes: the children the supervisor spawned to serve."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


@pytest.fixture
def database() -> str:
    return f"test_query_workers_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def service(mongodb_url: str, database: str) -> Iterator[Service]:
    env = {"MONGODB_URL": mongodb_url, "MONGODB_DATABASE": database, "QUERY_WORKERS": str(WORKERS)}
    started = Service("query", env).start()
    try:
        yield started
    finally:
        started.stop()


async def test_every_worker_serves_and_wakes_its_own_waits(
    service: Service, mongodb_url: str, database: str
) -> None:
    assert service.process is not None
    workers = workers_of(service.process.pid)
    assert len(workers) == WORKERS
    before = {pid: cpu_ticks(pid) for pid in workers}
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        writer = ReadModelWriter(client[database])
        ids = [new_id() for _ in range(WAITS)]
        await writer.apply([created(pid) for pid in ids])
        limits = httpx.Limits(max_keepalive_connections=0)  # a connection of its own each
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:

            async def wait_for_version_2(pid: str) -> dict[str, object]:
                body = {"query": PRODUCT, "variables": {"id": pid, "v": 2}}
                answer = await http.post(service.graphql_url, json=body)
                product: dict[str, object] = answer.json()["data"]["product"]
                return product

            waits = asyncio.gather(*(wait_for_version_2(pid) for pid in ids))
            await asyncio.sleep(0.5)  # every wait is parked in some worker by now
            await writer.apply([updated(pid, 2, name="Later") for pid in ids])
            answers = await waits
        await client.drop_database(database)
    finally:
        await client.close()
    assert answers == [{"id": pid, "version": 2} for pid in ids]
    assert all(cpu_ticks(pid) > before[pid] for pid in workers)  # each one served some


def test_workers_do_not_outlive_a_killed_supervisor(service: Service) -> None:
    assert service.process is not None
    workers = workers_of(service.process.pid)
    assert len(workers) == WORKERS
    service.kill()  # SIGKILL: the supervisor cannot stop its workers itself
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "workers still running after their supervisor died"
        time.sleep(0.2)
    again = Service("query", {})
    again.env = {**service.env}
    again.port = service.port  # the port is free for the next start
    again.start()
    again.stop()
