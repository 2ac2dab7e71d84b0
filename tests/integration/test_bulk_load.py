"""A rebuild's bulk first pass against real MongoDB: the same read models as the live writer.

`bulk_load.load` skips the live writer's transactions, reads and version-guarded writes, so it
must be held to the writer's result: any log, with redeliveries and holes, folded in memory or
spilling over to the writer at any point, gives document for document what `ReadModelWriter`
gives, and the indexes the queries rely on exist afterwards.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.asynchronous.database import AsyncDatabase

from services.projector import bulk_load
from services.projector.writer import ReadModelWriter
from shared.adapters.kafka_log import EventReader
from shared.adapters.mongo import CATEGORY_STATS, HISTORY, PRODUCTS, ensure_indexes
from shared.envelope import BadRecord, Envelope
from shared.settings import ProjectorSettings
from tests.integration.test_projections import check_fold
from tests.support.producing import produce
from tests.support.read_models import actual_stats, scratch_database
from tests.support.strategies import commands, write_side

COLLECTIONS = (PRODUCTS, HISTORY, CATEGORY_STATS)


@pytest.fixture(scope="module")
async def db(mongodb_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    async with scratch_database(mongodb_url, "test_bulk_load") as database:
        yield database


async def stream(items: Iterable[Envelope | BadRecord]) -> AsyncIterator[Envelope | BadRecord]:
    for item in items:
        yield item


async def contents(db: AsyncDatabase[dict[str, Any]], suffix: str) -> dict[str, Any]:
    products = [d async for d in db[PRODUCTS + suffix].find().sort("_id")]
    history = [d async for d in db[HISTORY + suffix].find().sort("_id")]
    stats = [d async for d in db[CATEGORY_STATS + suffix].find()]
    return {"products": products, "history": history, "stats": actual_stats(stats)}


async def indexes(db: AsyncDatabase[dict[str, Any]], suffix: str) -> dict[str, Any]:
    found = {}
    for name in (PRODUCTS, HISTORY):
        listed = [ix async for ix in await db[name + suffix].list_indexes()]
        found[name] = sorted((tuple(ix["key"].items()), ix.get("unique", False)) for ix in listed)
    return found


async def same_as_the_live_writer(
    db: AsyncDatabase[dict[str, Any]],
    bulk: str,
    live: str,
    delivered: list[Any],
    states: Any,
    log: list[Any],
) -> None:
    """The collections a bulk load made (`bulk`) hold the fold of `log` and exactly what the
    live writer makes of `delivered` (into `live`), indexes included; both are dropped after."""
    await ensure_indexes(db, live)
    await ReadModelWriter(db, live).apply(delivered)
    await check_fold(db, bulk, states, log)
    assert await contents(db, bulk) == await contents(db, live)
    assert await indexes(db, bulk) == await indexes(db, live)
    for name in COLLECTIONS:
        await db.drop_collection(name + bulk)
        await db.drop_collection(name + live)


def with_redeliveries(log: list[Envelope], replays: list[int]) -> list[Envelope]:
    """The log with stretches of it delivered again, as a consumer restarted mid-way sees it."""
    delivered: list[Envelope] = []
    for index, envelope in enumerate(log):
        delivered.append(envelope)
        for start in replays:
            if log and index == start % len(log):
                delivered.extend(log[max(0, index - 3) : index + 1])
    return delivered


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=commands,
    replays=st.lists(st.integers(0, 40), max_size=3),
    max_products=st.integers(0, 12),
    chunk=st.integers(1, 7),
)
async def test_the_bulk_pass_writes_what_the_live_writer_writes(
    db: AsyncDatabase[dict[str, Any]],
    batch: list[Any],
    replays: list[int],
    max_products: int,
    chunk: int,
) -> None:
    log, states = write_side(batch)
    delivered = with_redeliveries(log, replays)
    bulk, live = f"_b{uuid.uuid4().hex[:8]}", f"_w{uuid.uuid4().hex[:8]}"
    unreadable = BadRecord("json", "value is not JSON")

    totals = await bulk_load.load(stream([unreadable, *delivered]), db, bulk, chunk, max_products)

    assert dataclasses.astuple(totals) == (len(log), 1, 0)
    await same_as_the_live_writer(db, bulk, live, delivered, states, log)


@pytest.mark.parametrize("max_products", [0, 1, 100])
async def test_an_event_after_a_hole_is_counted_and_not_applied(
    db: AsyncDatabase[dict[str, Any]], max_products: int
) -> None:
    from services.command.graphql import update_command
    from shared.domain.commands import CreateProduct, parse

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    log, _ = write_side(
        [
            parse(
                CreateProduct,
                {"id": pid, "sku": "S", "name": "A", "price": {"amount": "1", "currency": "EUR"}},
            )
            for pid in (first, second)
        ]
        + [update_command({"id": first, "name": name}) for name in ("B", "C")]
    )
    without_b = [e for e in log if not (e.product_id == first and e.sequence == 2)]
    suffix = f"_gap{max_products}"

    totals = await bulk_load.load(stream(without_b), db, suffix, 2, max_products)

    assert (totals.applied, totals.gaps) == (2, 1)
    doc = await db[PRODUCTS + suffix].find_one({"_id": first})
    assert doc is not None and (doc["name"], doc["version"]) == ("A", 1)
    assert await db[HISTORY + suffix].count_documents({}) == 2


@pytest.mark.parametrize("max_products", [0, 1, 5, 1000])
async def test_worker_processes_write_what_the_live_writer_writes(
    isolated_env: dict[str, str], db: AsyncDatabase[dict[str, Any]], max_products: int
) -> None:
    """Partitions folded in two spawned processes, each with its share of max_products (and
    the rest of the log through the writer once a share is held), give the live writer's
    documents, and the reader goes on after everything they loaded."""
    log, states = write_side(sample_commands())
    await produce(isolated_env, log)
    env = {k.lower(): v for k, v in isolated_env.items()}
    settings = ProjectorSettings(**{**env, "mongodb_database": db.name})
    bulk, live = f"_p{uuid.uuid4().hex[:8]}", f"_w{uuid.uuid4().hex[:8]}"
    reader = EventReader(settings, client_id="test-bulk-load")
    await reader.start()
    try:
        totals = await bulk_load.load_partitions(
            settings, reader, db, bulk, 3, max_products, workers=2
        )
        assert [item async for item in bulk_load.events(reader)] == []
    finally:
        await reader.stop()

    assert dataclasses.astuple(totals) == (len(log), 0, 0)
    await same_as_the_live_writer(db, bulk, live, log, states, log)


def sample_commands() -> list[Any]:
    """Twelve products over the partitions, most updated, one deleted."""
    from services.command.graphql import update_command
    from shared.domain.commands import CreateProduct, DeleteProduct, parse

    ids = [str(uuid.uuid4()) for _ in range(12)]
    creates = [
        parse(
            CreateProduct,
            {
                "id": pid,
                "sku": f"S{i}",
                "name": "A",
                "category": ("cups", "mugs", None)[i % 3],
                "price": {"amount": f"{i}.50", "currency": "EUR"},
            },
        )
        for i, pid in enumerate(ids)
    ]
    updates = [update_command({"id": pid, "name": f"B{i}"}) for i, pid in enumerate(ids[:9])]
    return [*creates, *updates, parse(DeleteProduct, {"id": ids[4]})]
