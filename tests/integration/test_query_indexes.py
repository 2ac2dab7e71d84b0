"""Every filter/sort combination the query service offers is served from an index, and the
shapes clients use most read a page's worth of index keys, at any depth (explain, 100,000
products). Not a timing test: plans and counts of keys, which do not depend on the machine."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from pymongo import AsyncMongoClient, InsertOne
from pymongo.asynchronous.database import AsyncDatabase

from services.query import listing
from services.query.errors import ListingTooBroad
from services.query.read_models import ReadModels
from shared.adapters.mongo import PRODUCTS, SUPERSEDED_PRODUCT_INDEXES, ensure_indexes

FILTERS: list[dict[str, Any]] = [
    {},
    {"category": "c3"},
    {"tag": "t7"},
    {"nameContains": "42"},
    {"currency": "EUR"},
    {"minPrice": "10.00"},
    {"maxPrice": "50.00"},
    {"minPrice": "10.00", "maxPrice": "20.00", "currency": "EUR"},
    {"category": "c3", "currency": "USD", "minPrice": "5.00"},
    {"category": "c1", "tag": "t2"},
]


@pytest.fixture(scope="module")
async def db(mongodb_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    database = client[f"test_explain_{uuid.uuid4().hex[:8]}"]
    await ensure_indexes(database)
    rng = random.Random(11)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ops = []
    for i in range(100_000):
        created = start + timedelta(seconds=i)
        ops.append(
            InsertOne(
                {
                    "_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "sku": f"S{i}",
                    "name": f"Product {i}",
                    "description": None,
                    "price": {
                        "amount": Decimal128(Decimal(rng.randint(0, 9999)) / 100),
                        "currency": rng.choice(["EUR", "USD"]),
                    },
                    "category": f"c{i % 10}",
                    "tags": [f"t{i % 13}", f"t{i % 7}"],
                    "version": 1,
                    "createdAt": created,
                    "updatedAt": created,
                    "deleted": i % 50 == 0,
                }
            )
        )
    await database[PRODUCTS].bulk_write(ops, ordered=False)
    yield database
    await client.drop_database(database.name)
    await client.close()


def stages(plan: dict[str, Any]) -> set[str]:
    found = {plan.get("stage", "")}
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if child:
            found |= stages(child)
    return found


@pytest.mark.parametrize(("filter", "sort"), list(itertools.product(FILTERS, listing.ORDERS)))
async def test_no_collection_scan_for_any_filter_and_sort(
    db: AsyncDatabase[dict[str, Any]], filter: dict[str, Any], sort: str
) -> None:
    first = listing.page(filter, sort, 20, None)
    rows = await db[PRODUCTS].find(first.query).sort(first.order.spec()).limit(21).to_list()
    pages = [first]
    if len(rows) == 21:  # the second page's query (with the cursor condition) must be indexed too
        pages.append(listing.page(filter, sort, 20, first.cursor(rows[19])))
    for page in pages:
        explained = await db[PRODUCTS].find(page.query).sort(page.order.spec()).limit(21).explain()
        used = stages(explained["queryPlanner"]["winningPlan"])
        assert "COLLSCAN" not in used and "IXSCAN" in used, (filter, sort, used)
    count: dict[str, Any] = {"count": PRODUCTS, "query": first.count_query}
    if first.count_index:
        count["hint"] = dict(first.count_index)
    counted = await db.command("explain", count, verbosity="queryPlanner")
    used = stages(counted["queryPlanner"]["winningPlan"])
    assert "COLLSCAN" not in used, (filter, "count", used)


# The shapes issue 15 names, and the default sort within a category (what a shop's category page
# asks for first): each has an index with its equality fields before its sort field.
MOST_USED: list[tuple[dict[str, Any], str]] = [
    ({"category": "c3", "minPrice": "10.00", "maxPrice": "60.00"}, "PRICE_ASC"),
    ({"tag": "t5"}, "CREATED_AT_DESC"),
    ({}, "UPDATED_AT_DESC"),
    ({"category": "c3"}, "NAME_ASC"),
    ({}, "NAME_ASC"),
]


async def explained_page(
    db: AsyncDatabase[dict[str, Any]], page: listing.Page
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The page's rows (one more than asked, as the service reads them) and its explain."""
    find = db[PRODUCTS].find(page.query).sort(page.order.spec()).limit(page.limit + 1)
    rows = await find.to_list()
    explained = await find.clone().explain()
    return rows, explained


@pytest.mark.parametrize(("filter", "sort"), MOST_USED)
async def test_the_most_used_shapes_read_one_page_of_keys_at_any_depth(
    db: AsyncDatabase[dict[str, Any]], filter: dict[str, Any], sort: str
) -> None:
    page = listing.page(filter, sort, 20, None)
    for depth in range(12):
        rows, explained = await explained_page(db, page)
        stats = explained["executionStats"]
        used = stages(explained["queryPlanner"]["winningPlan"])
        # No blocking sort of the matches, and only the page's keys: the page, the one that
        # says more follow, and where a cursor is, the rows whose sort key ties with its row's
        # (the scan starts at the key; the id decides among those).
        ties = 0
        if page.after is not None:
            tied = {**listing.conditions(filter), page.order.field: page.after.key}
            ties = await db[PRODUCTS].count_documents(tied)
        assert "SORT" not in used, (filter, sort, depth, used)
        for examined in ("totalKeysExamined", "totalDocsExamined"):
            assert stats[examined] <= 21 + ties, (filter, sort, depth, stats[examined], ties)
        assert len(rows) == 21, (filter, sort, depth)
        page = listing.page(filter, sort, 20, page.cursor(rows[19]))


async def test_a_name_filter_is_bounded_by_the_listing_time_limit(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    """nameContains is tried on every name (no index narrows a substring): past the bound the
    listing is refused, page and count alike, with a code that says so."""
    reads = ReadModels(db, listing_max_time_ms=1)
    nowhere = listing.page(
        {"nameContains": "no product is named this"}, "UPDATED_AT_DESC", 20, None
    )
    with pytest.raises(ListingTooBroad) as refused:
        await reads.page(nowhere)
    assert refused.value.code == "QUERY_TOO_BROAD"
    assert refused.value.extensions == {"retriable": False}
    with pytest.raises(ListingTooBroad):
        await reads.count(nowhere)
    # Within the bound the same reads answer.
    reads = ReadModels(db, listing_max_time_ms=60_000)
    assert await reads.page(nowhere) == ([], False)
    assert await reads.count(nowhere) == 0
    found = listing.page({"nameContains": "uct 99999"}, "NAME_ASC", 20, None)
    rows, more = await reads.page(found)
    assert [r["name"] for r in rows] == ["Product 99999"] and not more
    assert await reads.count(found) == 1


async def test_indexes_an_earlier_version_made_are_dropped_on_upgrade(mongodb_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    database = client[f"test_upgrade_{uuid.uuid4().hex[:8]}"]
    try:
        products = database[PRODUCTS]
        await products.create_index(
            [("deleted", 1), ("category", 1), ("price.currency", 1), ("price.amount", 1)]
        )
        await products.create_index([("deleted", 1), ("tags", 1), ("_id", 1)])
        before = set(await products.index_information())
        assert set(SUPERSEDED_PRODUCT_INDEXES) <= before
        await ensure_indexes(database)
        await ensure_indexes(database)  # again, as every service start does: nothing to drop
        after = set(await products.index_information())
        assert not set(SUPERSEDED_PRODUCT_INDEXES) & after
        assert len(after) == 8  # _id and the seven of shared/adapters/mongo.py
    finally:
        await client.drop_database(database.name)
        await client.close()


async def test_ensuring_indexes_does_not_wait_behind_an_open_transaction(mongodb_url: str) -> None:
    """A killed projector's transaction stays open until its successor aborts it: a service
    starting meanwhile (ensure_indexes at every start) must not queue behind it."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    database = client[f"test_locks_{uuid.uuid4().hex[:8]}"]
    try:
        await ensure_indexes(database)
        await database[PRODUCTS].insert_one({"_id": "p", "deleted": False})
        async with client.start_session() as session:
            await session.start_transaction()
            await database[PRODUCTS].update_one(
                {"_id": "p"}, {"$set": {"name": "n"}}, session=session
            )
            await asyncio.wait_for(ensure_indexes(database), 5)
            await session.abort_transaction()
    finally:
        await client.drop_database(database.name)
        await client.close()
