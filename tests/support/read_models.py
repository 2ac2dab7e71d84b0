"""What the read models must hold, computed from the domain's own fold (not the projector's code)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.domain.decider import Product, State


@contextlib.asynccontextmanager
async def scratch_database(
    mongodb_url: str, prefix: str
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of its own for a test module, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    database = client[f"{prefix}_{uuid.uuid4().hex[:8]}"]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


def expected_product(state: Product) -> dict[str, Any]:
    return {
        "_id": state.id,
        "sku": state.sku,
        "name": state.name,
        "description": state.description,
        "price": {"amount": state.price.amount, "currency": state.price.currency},
        "category": state.category,
        "tags": list(state.tags),
        "brand": state.brand,
        "version": state.version,
        "deleted": state.deleted,
    }


def actual_product(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("_id", "sku", "name", "description", "category", "tags", "brand", "version", "deleted")
    return {
        **{k: doc[k] for k in keys},
        "price": {
            "amount": doc["price"]["amount"].to_decimal(),
            "currency": doc["price"]["currency"],
        },
    }


def expected_stats(states: list[Product]) -> dict[tuple[str, str], dict[str, Any]]:
    prices: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for state in states:
        if not state.deleted and state.category is not None:
            prices[(state.category, state.price.currency)].append(state.price.amount)
    return {
        key: {
            "productCount": len(p),
            "minPrice": min(p),
            "maxPrice": max(p),
            "averagePrice": sum(p) / len(p),
        }
        for key, p in prices.items()
    }


def actual_stats(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (d["category"], d["currency"]): {
            "productCount": d["productCount"],
            "minPrice": d["minPrice"].to_decimal(),
            "maxPrice": d["maxPrice"].to_decimal(),
            "averagePrice": d["averagePrice"].to_decimal().quantize(Decimal("0.0001")),
        }
        for d in docs
    }


def rounded(stats: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        k: {**v, "averagePrice": Decimal(v["averagePrice"]).quantize(Decimal("0.0001"))}
        for k, v in stats.items()
    }


async def wait_for_versions(
    db: AsyncDatabase[dict[str, Any]], expected: dict[str, int], within_s: float = 90
) -> None:
    """Until the products read model holds exactly these versions (the projector caught up)."""
    deadline = time.monotonic() + within_s
    versions: dict[str, int] = {}
    while time.monotonic() < deadline:
        versions = {d["_id"]: d["version"] async for d in db.products.find({}, {"version": 1})}
        if versions == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"projection did not reach the log's versions in {within_s}s: {versions}")


async def assert_read_models_equal_fold(
    db: AsyncDatabase[dict[str, Any]], states: dict[str, State], events: int
) -> None:
    """Every read model holds what folding the log's `events` events gives, and nothing else."""
    products = {pid: state for pid, state in states.items() if state is not None}
    docs = {d["_id"]: actual_product(d) async for d in db.products.find()}
    assert docs == {pid: expected_product(state) for pid, state in products.items()}
    assert await db.product_history.count_documents({}) == events
    stats = [d async for d in db.category_stats.find()]
    assert actual_stats(stats) == rounded(expected_stats(list(products.values())))
