"""The `category_stats` read model: per category and currency, count and min / max / average price.

Count and sum follow from the events: each applied event moves a product out of one
(category, currency) and into another, so the batch adds its deltas (`$inc`-like, exact in
Decimal128). Min and max follow from the stored ones and the prices the batch brought in, as
long as no price that left the key could have been the min or the max; only then are they read
off the `(deleted, category, price.currency, price.amount)` index (two index seeks), whatever the
size of the catalog. Everything happens in the batch's transaction, so redelivered events
(skipped by the version guard) never count twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import ReplaceOne, UpdateOne

from services.projector.projections.products import amount

Key = tuple[str, str]  # (category, currency)
Document = dict[str, Any]


def key_of(product: Document | None) -> Key | None:
    if product is None or product.get("deleted") or product.get("category") is None:
        return None
    return product["category"], product["price"]["currency"]


def stats_id(key: Key) -> Document:
    return {"category": key[0], "currency": key[1]}


def live_in(key: Key) -> Document:
    return {"deleted": False, "category": key[0], "price.currency": key[1]}


@dataclass
class Delta:
    """What a batch did to one (category, currency): count and sum moved, prices in and out."""

    count: int = 0
    total: Decimal = Decimal(0)
    added: tuple[Decimal, Decimal] | None = None  # lowest and highest price that came in
    removed: tuple[Decimal, Decimal] | None = None  # lowest and highest price that left

    def add(self, price: Decimal) -> None:
        self.count += 1
        self.total += price
        self.added = _widen(self.added, price)

    def remove(self, price: Decimal) -> None:
        self.count -= 1
        self.total -= price
        self.removed = _widen(self.removed, price)


def _widen(bounds: tuple[Decimal, Decimal] | None, price: Decimal) -> tuple[Decimal, Decimal]:
    return (price, price) if bounds is None else (min(bounds[0], price), max(bounds[1], price))


class Changes:
    """How a batch moves each (category, currency)'s statistics."""

    def __init__(self) -> None:
        self._deltas: dict[Key, Delta] = {}

    def record(self, before: Document | None, after: Document) -> None:
        if (old := key_of(before)) is not None:
            assert before is not None
            self._deltas.setdefault(old, Delta()).remove(amount(before))
        if (new := key_of(after)) is not None:
            self._deltas.setdefault(new, Delta()).add(amount(after))

    def __bool__(self) -> bool:
        return bool(self._deltas)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._deltas)

    def items(self) -> Iterator[tuple[Key, Delta]]:
        return iter(self._deltas.items())


def known_bounds(delta: Delta, stored: Document | None) -> tuple[Decimal, Decimal] | None:
    """Min and max after the batch, if they follow from the stored statistics and the batch's
    prices; None if a price that left may have been the min or the max (then read the index).

    No stored statistics means no live product in the key before the batch.
    """
    if stored is None:
        return delta.added if delta.removed is None else None
    low, high = stored["minPrice"].to_decimal(), stored["maxPrice"].to_decimal()
    if delta.removed is not None and (delta.removed[0] <= low or delta.removed[1] >= high):
        return None
    if delta.added is not None:
        low, high = min(low, delta.added[0]), max(high, delta.added[1])
    return low, high


def increment(key: Key, count: int, total: Decimal, bounds: tuple[Any, Any]) -> UpdateOne:
    """Add a batch's deltas to the stored count and sum, and set the new bounds and average."""
    return UpdateOne({"_id": stats_id(key)}, _moved_by(key, count, total, bounds), upsert=True)


def guarded(key: Key, delta: Delta) -> UpdateOne:
    """The batch's deltas, applied only where `known_bounds` would find the bounds known.

    The update's filter is `known_bounds`' condition on the stored document — it exists, has a
    running sum, and every price that left lies strictly inside its bounds — and the new bounds
    are the stored ones widened by the prices that came in, computed by the server. So the
    common batch moves its statistics without reading them first. Where the filter does not
    match (a bound may have left, a new key, a document written before `priceSum`), nothing is
    changed; the caller sees the shortfall in the matched count and takes the reading path.
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


def document(key: Key, count: int, total: Decimal, bounds: tuple[Decimal, Decimal]) -> Document:
    """The whole statistics document of a key with `count` live products summing to `total`."""
    return {
        "_id": stats_id(key),
        "category": key[0],
        "currency": key[1],
        "productCount": count,
        "priceSum": Decimal128(total),
        "minPrice": Decimal128(bounds[0]),
        "maxPrice": Decimal128(bounds[1]),
        "averagePrice": Decimal128(total / count),
    }


def replace(
    key: Key, count: int, total: Decimal128, bounds: tuple[Decimal128, Decimal128]
) -> ReplaceOne[Document]:
    """The whole document, from totals recomputed over `products` (see `pipeline`)."""
    low, high = bounds
    return ReplaceOne(
        {"_id": stats_id(key)},
        document(key, count, total.to_decimal(), (low.to_decimal(), high.to_decimal())),
        upsert=True,
    )


def pipeline(keys: set[Key]) -> list[Document]:
    """Count and sum of live products per key, for statistics written before `priceSum` existed."""
    return [
        {"$match": {"deleted": False, "$or": [live_in(key) for key in sorted(keys)]}},
        {
            "$group": {
                "_id": {"category": "$category", "currency": "$price.currency"},
                "productCount": {"$sum": 1},
                "priceSum": {"$sum": "$price.amount"},
            }
        },
    ]
