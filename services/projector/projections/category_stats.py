"""The `category_stats` read model: per category and currency, count and min / max / average price.

Count and sum follow from the events: each applied event moves a product out of one
(category, currency) and into another, so the batch adds its deltas (`$inc`-like, exact in
Decimal128). Min and max cannot be kept from events once products leave a category, so they are
read off the `(deleted, category, price.currency, price.amount)` index — two index seeks per
touched category, whatever the size of the catalog. Everything happens in the batch's
transaction, so redelivered events (skipped by the version guard) never count twice.
"""

from __future__ import annotations

from collections.abc import Iterator
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


class Changes:
    """How a batch moves each (category, currency)'s product count and price sum."""

    def __init__(self) -> None:
        self._deltas: dict[Key, tuple[int, Decimal]] = {}

    def record(self, before: Document | None, after: Document) -> None:
        if (old := key_of(before)) is not None:
            assert before is not None
            count, total = self._deltas.get(old, (0, Decimal(0)))
            self._deltas[old] = (count - 1, total - amount(before))
        if (new := key_of(after)) is not None:
            count, total = self._deltas.get(new, (0, Decimal(0)))
            self._deltas[new] = (count + 1, total + amount(after))

    def __bool__(self) -> bool:
        return bool(self._deltas)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._deltas)

    def items(self) -> Iterator[tuple[Key, tuple[int, Decimal]]]:
        return iter(self._deltas.items())


def increment(key: Key, count: int, total: Decimal, bounds: tuple[Any, Any]) -> UpdateOne:
    """Add a batch's deltas to the stored count and sum, and set the new bounds and average."""
    return UpdateOne(
        {"_id": stats_id(key)},
        [
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
        ],
        upsert=True,
    )


def replace(key: Key, count: int, total: Any, bounds: tuple[Any, Any]) -> ReplaceOne[Document]:
    """The whole document, from totals recomputed over `products` (see `pipeline`)."""
    total = Decimal128(Decimal(str(total)))
    return ReplaceOne(
        {"_id": stats_id(key)},
        {
            "category": key[0],
            "currency": key[1],
            "productCount": count,
            "priceSum": total,
            "minPrice": bounds[0],
            "maxPrice": bounds[1],
            "averagePrice": Decimal128(total.to_decimal() / count),
        },
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
