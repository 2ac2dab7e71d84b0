"""Every filter/sort combination the query service offers is served from an index (explain, 100,000 products)."""

from __future__ import annotations

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
from shared.adapters.mongo import PRODUCTS, ensure_indexes

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
    counted = await db.command(
        "explain", {"count": PRODUCTS, "query": first.count_query}, verbosity="queryPlanner"
    )
    used = stages(counted["queryPlanner"]["winningPlan"])
    assert "COLLSCAN" not in used, (filter, "count", used)
