"""Writing `category_stats` inside a batch's transaction, by the batch's deltas.

Count and sum follow from the events: each applied event moves a product out of one
(category, currency) and into another, so the batch adds its deltas (exact in Decimal128). Min
and max follow from the stored ones and the prices the batch brought in, as long as no price
that left the key could have been the min or the max; only then are they read off the
`(deleted, category, price.currency, price.amount)` index (two index seeks), whatever the size
of the catalog. Everything happens in the batch's transaction, so redelivered events (skipped
by the version guard) never count twice. The pure parts are shared/read_model/category_stats.py.

Two ways to write a batch's deltas (the writer picks, see writer.py): `move` does not read the
statistics at all — a guarded update per key whose filter is `known_bounds`' condition — and
raises BoundsUnknown when a guard does not hold; `update` reads them first and, where a
boundary price may have left, the index.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from bson.decimal128 import Decimal128
from pymongo import DeleteOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from shared.adapters.mongo import Document
from shared.read_model.category_stats import Changes, Delta, Key, known_bounds, stats_id
from shared.read_model.documents import CategoryStatsDocument


class BoundsUnknown(Exception):
    """A guarded update did not match: this batch must read the statistics."""


class StatisticsTooOld(Exception):
    """Statistics written before the running sum (`priceSum`) existed: rebuild the read models."""


class CategoryStats:
    """The statistics collection of one set of read models, and the products they summarize."""

    def __init__(
        self, stats: AsyncCollection[Document], products: AsyncCollection[Document]
    ) -> None:
        self._stats = stats
        self._products = products

    async def move(self, session: AsyncClientSession, changes: Changes) -> None:
        """The batch's deltas without reading the statistics, or BoundsUnknown (nothing of
        this call is then left once the transaction is rolled back)."""
        ops = [guarded(key, delta) for key, delta in changes.items()]
        written = await self._stats.bulk_write(ops, ordered=False, session=session)
        if written.matched_count != len(ops):
            raise BoundsUnknown

    async def update(self, session: AsyncClientSession, changes: Changes) -> None:
        """The batch's deltas, the bounds from the stored ones or, where a boundary price may
        have left, from the price index."""
        ids = [stats_id(key) for key in changes]
        stored: dict[Key, CategoryStatsDocument] = {}
        async for found in self._stats.find({"_id": {"$in": ids}}, session=session):
            doc = cast(CategoryStatsDocument, found)
            if "priceSum" not in doc:
                raise StatisticsTooOld(
                    f"category_stats {doc['_id']} has no priceSum: written before the statistics "
                    "kept a running sum; rebuild the read models (make rebuild)"
                )
            stored[(doc["category"], doc["currency"])] = doc
        ops: list[Any] = []
        for key, delta in changes.items():
            before = stored.get(key)
            if before is not None and before["productCount"] + delta.count == 0:
                ops.append(DeleteOne({"_id": stats_id(key)}))
                continue
            known = known_bounds(delta, before)
            if known is not None:
                bounds: tuple[Any, Any] = (Decimal128(known[0]), Decimal128(known[1]))
            else:
                read = await self._bounds_from_index(session, key)
                if read is None:
                    ops.append(DeleteOne({"_id": stats_id(key)}))
                    continue
                bounds = read
            ops.append(increment(key, delta.count, delta.total, bounds))
        await self._stats.bulk_write(ops, ordered=False, session=session)

    async def _bounds_from_index(
        self, session: AsyncClientSession, key: Key
    ) -> tuple[Any, Any] | None:
        """The lowest and highest live price of a key, or None if no live product is left."""
        match = live_in(key)
        cheapest = await self._products.find_one(
            match, {"price.amount": 1}, sort=[("price.amount", 1)], session=session
        )
        if cheapest is None:
            return None
        dearest = await self._products.find_one(
            match, {"price.amount": 1}, sort=[("price.amount", -1)], session=session
        )
        assert dearest is not None
        return cheapest["price"]["amount"], dearest["price"]["amount"]


def live_in(key: Key) -> Document:
    """The live products of a key (a prefix of the price index)."""
    return {"deleted": False, "category": key[0], "price.currency": key[1]}


def increment(key: Key, count: int, total: Decimal, bounds: tuple[Any, Any]) -> UpdateOne:
    """Add a batch's deltas to the stored count and sum, and set the new bounds and average."""
    return UpdateOne({"_id": stats_id(key)}, _moved_by(key, count, total, bounds), upsert=True)


def guarded(key: Key, delta: Delta) -> UpdateOne:
    """The batch's deltas, applied only where `known_bounds` would find the bounds known.

    The update's filter is `known_bounds`' condition on the stored document — it exists, has a
    running sum, and every price that left lies strictly inside its bounds — and the new bounds
    are the stored ones widened by the prices that came in, computed by the server. So the
    common batch moves its statistics without reading them first. Where the filter does not
    match (a bound may have left, a new key), nothing is changed; the caller sees the shortfall
    in the matched count and takes the reading path.
    """
    match: Document = {"_id": stats_id(key), "priceSum": {"$exists": True}}
    if delta.removed is not None:
        match["minPrice"] = {"$lt": Decimal128(delta.removed[0])}
        match["maxPrice"] = {"$gt": Decimal128(delta.removed[1])}
    bounds: tuple[Any, Any] = ("$minPrice", "$maxPrice")
    if delta.added is not None:
        low, high = Decimal128(delta.added[0]), Decimal128(delta.added[1])
        bounds = ({"$min": ["$minPrice", low]}, {"$max": ["$maxPrice", high]})
    return UpdateOne(match, _moved_by(key, delta.count, delta.total, bounds))


def _moved_by(key: Key, count: int, total: Decimal, bounds: tuple[Any, Any]) -> list[Document]:
    """The update pipeline: count and sum move by the deltas, bounds and average are set."""
    return [
        {
            "$set": {
                "category": key[0],
                "currency": key[1],
                "productCount": {"$add": [{"$ifNull": ["$productCount", 0]}, count]},
                "priceSum": {
                    "$add": [{"$ifNull": ["$priceSum", Decimal128("0")]}, Decimal128(total)]
                },
                "minPrice": bounds[0],
                "maxPrice": bounds[1],
            }
        },
        {"$set": {"averagePrice": {"$divide": ["$priceSum", "$productCount"]}}},
    ]
