"""`product(id, minVersion)`: waits on the change feed for the projector, bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.writer import ReadModelWriter
from shared.adapters.mongo import PRODUCTS
from tests.query.client import Document, data, error_codes, gql
from tests.query.conftest import MIN_VERSION_TIMEOUT_S
from tests.query.events import created, deleted, new_id, updated

PRODUCT = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { id name version } }"


async def later(delay: float, write: Awaitable[object]) -> None:
    await asyncio.sleep(delay)
    await write


async def test_a_version_already_projected_answers_at_once(
    http: httpx.AsyncClient, writer: ReadModelWriter
) -> None:
    pid = new_id()
    await writer.apply([created(pid), updated(pid, 2, name="Jug")])
    started = time.monotonic()
    assert (await data(http, PRODUCT, id=pid, v=1))["product"] == {
        "id": pid,
        "name": "Jug",
        "version": 2,
    }
    assert time.monotonic() - started < 0.5


async def test_waits_for_a_later_write(http: httpx.AsyncClient, writer: ReadModelWriter) -> None:
    pid = new_id()
    await writer.apply([created(pid)])
    write = asyncio.create_task(later(0.2, writer.apply([updated(pid, 2, name="Jug")])))
    started = time.monotonic()
    result = await data(http, PRODUCT, id=pid, v=2)
    waited = time.monotonic() - started
    await write
    assert result["product"] == {"id": pid, "name": "Jug", "version": 2}
    assert 0.15 < waited < MIN_VERSION_TIMEOUT_S


async def test_waits_for_the_creation_of_an_unknown_product(
    http: httpx.AsyncClient, writer: ReadModelWriter
) -> None:
    pid = new_id()
    write = asyncio.create_task(later(0.2, writer.apply([created(pid, "Kettle")])))
    result = await data(http, PRODUCT, id=pid, v=1)
    await write
    assert result["product"] == {"id": pid, "name": "Kettle", "version": 1}


async def test_many_waiters_are_all_woken(http: httpx.AsyncClient, writer: ReadModelWriter) -> None:
    pids = [new_id() for _ in range(50)]
    await writer.apply([created(pid) for pid in pids])
    waits = [asyncio.create_task(data(http, PRODUCT, id=pid, v=3)) for pid in pids]
    await asyncio.sleep(0.2)
    await writer.apply([updated(pid, 2, name="Two") for pid in pids])
    await writer.apply([updated(pid, 3, name="Three") for pid in pids])
    results = await asyncio.gather(*waits)
    assert [r["product"]["version"] for r in results] == [3] * 50


async def test_a_timeout_says_which_versions(
    http: httpx.AsyncClient, writer: ReadModelWriter
) -> None:
    pid = new_id()
    await writer.apply([created(pid), updated(pid, 2, name="Jug")])
    started = time.monotonic()
    body = await gql(http, PRODUCT, id=pid, v=5)
    waited = time.monotonic() - started
    assert error_codes(body) == ["CONSISTENCY_TIMEOUT"]
    extensions = body["errors"][0]["extensions"]
    assert extensions == {"code": "CONSISTENCY_TIMEOUT", "expectedVersion": 5, "currentVersion": 2}
    assert body["data"] == {"product": None}
    assert MIN_VERSION_TIMEOUT_S - 0.05 < waited < MIN_VERSION_TIMEOUT_S + 1.0


async def test_a_timeout_for_a_product_never_created_has_version_0(http: httpx.AsyncClient) -> None:
    body = await gql(http, PRODUCT, id=new_id(), v=1)
    assert body["errors"][0]["extensions"]["currentVersion"] == 0


async def test_a_product_deleted_by_then_is_null(
    http: httpx.AsyncClient, writer: ReadModelWriter
) -> None:
    pid = new_id()
    await writer.apply([created(pid)])
    write = asyncio.create_task(later(0.2, writer.apply([deleted(pid, 2)])))
    started = time.monotonic()
    result = await data(http, PRODUCT, id=pid, v=2)
    await write
    assert result["product"] is None
    # A tombstone settles any later version at once: nothing can come after a deletion.
    assert (await data(http, PRODUCT, id=pid, v=9))["product"] is None
    assert time.monotonic() - started < MIN_VERSION_TIMEOUT_S


async def test_min_version_must_be_positive(http: httpx.AsyncClient) -> None:
    body = await gql(http, PRODUCT, id=new_id(), v=0)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "minVersion"


async def test_a_rebuilt_read_model_swapped_in_wakes_the_wait(
    http: httpx.AsyncClient, db: AsyncDatabase[Document], writer: ReadModelWriter
) -> None:
    """Invariant 7: a rebuild renamed over `products` mid-wait is seen, not waited out."""
    pid = new_id()
    await writer.apply([created(pid)])
    suffix = f"_rebuild_{pid[:8]}"
    rebuilt = ReadModelWriter(db, suffix)
    existing = [doc async for doc in db[PRODUCTS].find()]
    await db[PRODUCTS + suffix].insert_many(existing)
    await rebuilt.apply([updated(pid, 2, name="Rebuilt")])

    async def swap() -> None:
        await asyncio.sleep(0.2)
        await db.client.admin.command(
            "renameCollection",
            f"{db.name}.{PRODUCTS}{suffix}",
            to=f"{db.name}.{PRODUCTS}",
            dropTarget=True,
        )

    task = asyncio.create_task(swap())
    result = await data(http, PRODUCT, id=pid, v=2)
    await task
    assert result["product"] == {"id": pid, "name": "Rebuilt", "version": 2}
