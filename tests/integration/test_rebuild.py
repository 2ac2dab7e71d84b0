"""A rebuild from offset 0 during live writes: no query fails, and the swapped-in models equal the fold."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.support.infra import ROOT
from tests.support.kafka import fold, read_all
from tests.support.read_models import (
    actual_product,
    actual_stats,
    expected_product,
    expected_stats,
    rounded,
)
from tests.support.services import Service, create_products, graphql

UPDATE = "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { id version } }"


@pytest.fixture
def stack(isolated_env: dict[str, str]) -> Iterator[tuple[Service, Service, Service]]:
    services = [Service(name, isolated_env) for name in ("command", "projector", "query")]
    try:
        for service in services:
            service.start()
        yield services[0], services[1], services[2]
    finally:
        for service in services:
            service.stop()


async def test_rebuild_during_live_writes(
    isolated_env: dict[str, str], stack: tuple[Service, Service, Service]
) -> None:
    command, _projector, query = stack
    async with httpx.AsyncClient(timeout=30) as http:
        ids = await create_products(http, command, 200)
        stop = asyncio.Event()
        failures: list[Any] = []
        answered = 0

        async def write() -> None:
            i = 0
            while not stop.is_set():
                body = await graphql(
                    http,
                    command.graphql_url,
                    UPDATE,
                    {"i": {"id": ids[i % 200], "name": f"live {i}"}},
                )
                if "errors" in body:
                    failures.append(body)
                i += 1

        async def read() -> None:
            nonlocal answered
            i = 0
            while not stop.is_set():
                body = await graphql(
                    http,
                    query.graphql_url,
                    "query($id: ID!) { product(id: $id) { id version } products(first: 5) { totalCount } categories { productCount } }",
                    {"id": ids[i % 200]},
                )
                if "errors" in body or body["data"]["product"] is None:
                    failures.append(body)
                answered += 1
                i += 1

        load = [
            asyncio.create_task(write()),
            asyncio.create_task(write()),
            asyncio.create_task(read()),
            asyncio.create_task(read()),
        ]
        await asyncio.sleep(0.5)
        before = await _collection_uuid(isolated_env)
        rebuilt = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "services.projector.rebuild"],
            cwd=ROOT,
            env={**command.env, "PROJECTOR_PORT": "0"},
            capture_output=True,
            text=True,
            timeout=180,
        )
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*load)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "rebuilt:" in rebuilt.stdout
    assert failures == [] and answered > 20
    assert await _collection_uuid(isolated_env) != before  # the rebuilt collection was swapped in

    records = await read_all(isolated_env["KAFKA_BOOTSTRAP_SERVERS"], isolated_env["EVENTS_TOPIC"])
    states = fold(records)
    expected = {pid: expected_product(s) for pid, s in states.items() if s is not None}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(isolated_env["MONGODB_URL"])
    db = client[isolated_env["MONGODB_DATABASE"]]
    try:
        for _ in range(100):  # the live projector goes on after the swap; let it finish
            docs = {d["_id"]: actual_product(d) async for d in db.products.find()}
            if docs == expected:
                break
            await asyncio.sleep(0.2)
        assert docs == expected
        assert await db.product_history.count_documents({}) == len(records)
        stats = [d async for d in db.category_stats.find()]
        assert actual_stats(stats) == rounded(
            expected_stats([s for s in states.values() if s is not None])
        )
        assert await db.products_rebuild.count_documents({}) == 0
    finally:
        await client.close()


async def _collection_uuid(env: dict[str, str]) -> Any:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["MONGODB_URL"])
    try:
        infos = await client[env["MONGODB_DATABASE"]].list_collections(filter={"name": "products"})
        return [info["info"]["uuid"] async for info in infos]
    finally:
        await client.close()
