"""The `category_stats` read model: per category and currency, count and min / max / average price.

Min and max cannot be maintained from events alone once products leave a category, so the
statistics of every category a batch touched are recomputed from `products` inside the batch's
transaction. That keeps them a function of the products collection — hence of the log — under
updates, deletes and any amount of redelivery.
"""

from __future__ import annotations

from typing import Any

Key = tuple[str, str]  # (category, currency)
Document = dict[str, Any]


def key_of(product: Document | None) -> Key | None:
    if product is None or product.get("deleted") or product.get("category") is None:
        return None
    return product["category"], product["price"]["currency"]


def pipeline(keys: set[Key]) -> list[Document]:
    return [
        {
            "$match": {
                "deleted": False,
                "$or": [{"category": c, "price.currency": cur} for c, cur in sorted(keys)],
            }
        },
        {
            "$group": {
                "_id": {"category": "$category", "currency": "$price.currency"},
                "productCount": {"$sum": 1},
                "minPrice": {"$min": "$price.amount"},
                "maxPrice": {"$max": "$price.amount"},
                "averagePrice": {"$avg": "$price.amount"},
            }
        },
    ]


def stats_id(key: Key) -> Document:
    return {"category": key[0], "currency": key[1]}
