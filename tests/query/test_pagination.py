"""Keyset pagination: every sort order pages through the catalog exactly once, in order.

The catalog is inserted directly (not projected) so that it can be full of ties — equal names,
prices and timestamps — which only the `_id` tie-break keeps in a total order.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from bson.decimal128 import Decimal128
from pymongo.asynchronous.database import AsyncDatabase

from shared.adapters.mongo import PRODUCTS
from tests.query.client import data

Document = dict[str, Any]
SIZE = 300
LIST = """query($sort: ProductSort, $first: Int, $after: String, $filter: ProductFilter) {
  products(sort: $sort, first: $first, after: $after, filter: $filter) {
    edges { cursor node { id name price { amount } createdAt updatedAt } }
    pageInfo { hasNextPage endCursor } totalCount } }"""

BASE = datetime(2024, 1, 1, tzinfo=UTC)
KEYS: dict[str, tuple[str, bool]] = {  # sort → (document field, descending)
    "NAME_ASC": ("name", False),
    "NAME_DESC": ("name", True),
    "PRICE_ASC": ("amount", False),
    "PRICE_DESC": ("amount", True),
    "CREATED_AT_ASC": ("createdAt", False),
    "CREATED_AT_DESC": ("createdAt", True),
    "UPDATED_AT_DESC": ("updatedAt", True),
}


@pytest.fixture(scope="module")
async def rows(db: AsyncDatabase[Document]) -> list[Document]:
    rng = random.Random(5)
    docs: list[Document] = []
    for i in range(SIZE + 20):
        created = BASE + timedelta(minutes=rng.randrange(40))
        docs.append(
            {
                "_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "sku": f"SKU-{i}",
                "name": f"Product {rng.randrange(50):02}",
                "description": None,
                "price": {
                    "amount": Decimal128(Decimal(rng.randrange(1, 60)) / 4),
                    "currency": "EUR",
                },
                "category": None,
                "tags": [],
                "version": 1,
                "createdAt": created,
                "updatedAt": created + timedelta(minutes=rng.randrange(3)),
                "deleted": i >= SIZE,  # 20 tombstones that must never show up
            }
        )
    await db[PRODUCTS].insert_many(docs)
    return [
        {
            "id": d["_id"],
            "name": d["name"],
            "amount": d["price"]["amount"].to_decimal(),
            "createdAt": d["createdAt"],
            "updatedAt": d["updatedAt"],
        }
        for d in docs
        if not d["deleted"]
    ]


def expected(rows: list[Document], sort: str) -> list[str]:
    field, descending = KEYS[sort]
    ordered = sorted(rows, key=lambda r: (r[field], r["id"]), reverse=descending)
    return [r["id"] for r in ordered]


@pytest.mark.parametrize("sort", list(KEYS))
async def test_paging_through_yields_each_product_once_in_order(
    http: httpx.AsyncClient, rows: list[Document], sort: str
) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await data(http, LIST, sort=sort, first=37, after=after))["products"]
        assert page["totalCount"] == SIZE
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        assert page["edges"] == [] or page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected(rows, sort)
    assert pages == -(-SIZE // 37)


async def test_rows_added_between_pages_neither_repeat_nor_shift_the_window(
    http: httpx.AsyncClient, db: AsyncDatabase[Document], rows: list[Document]
) -> None:
    """Keyset, not skip: a product inserted before the current position does not push a row
    of the previous page onto the next one."""
    first = (await data(http, LIST, sort="NAME_ASC", first=50))["products"]
    tag = "inserted-meanwhile"
    await db[PRODUCTS].insert_one(
        {
            "_id": "0",
            "sku": "X",
            "name": "Product 00",
            "description": None,
            "price": {"amount": Decimal128("1.00"), "currency": "EUR"},
            "category": None,
            "tags": [tag],
            "version": 1,
            "createdAt": BASE,
            "updatedAt": BASE,
            "deleted": False,
        }
    )
    try:
        second = await data(
            http, LIST, sort="NAME_ASC", first=50, after=first["pageInfo"]["endCursor"]
        )
        ids = [e["node"]["id"] for e in first["edges"] + second["products"]["edges"]]
        assert ids == expected(rows, "NAME_ASC")[:100]
    finally:
        await db[PRODUCTS].delete_one({"_id": "0"})


async def test_cursors_are_opaque_strings(http: httpx.AsyncClient, rows: list[Document]) -> None:
    page = (await data(http, LIST, sort="PRICE_DESC", first=2))["products"]
    for edge in page["edges"]:
        assert isinstance(edge["cursor"], str)
        assert edge["node"]["id"] not in edge["cursor"]  # encoded, not a bare id
