"""Read-model documents → the shapes of query.graphql.

The read models keep money as Decimal128 so MongoDB filters and sorts on it exactly; clients get
decimal strings, never a float (docs/architecture.md, "Contracts"). Everything here is pure.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from bson.decimal128 import Decimal128

from shared.adapters.mongo import Document
from shared.domain.money import minor_unit
from shared.domain.upcasting import upcast
from shared.read_model.documents import (
    CategoryStatsDocument,
    HistoryDocument,
    PriceDocument,
    ProductDocument,
)
from shared.read_model.history import stored_version
from shared.read_model.prices import decimal_of


def decimal(value: Decimal128 | Decimal | str | int) -> Decimal:
    if isinstance(value, Decimal128):
        return _stored_decimal(value.bid)
    return Decimal(str(value))


def decimal_text(value: Decimal128) -> str:
    """A stored Decimal128 as text, exactly (str(value) without its cost)."""
    return _stored_decimal_text(value.bid)


# bson converts a Decimal128 to a Decimal in pure Python, digit by digit: it was the largest
# single cost of shaping a page. Prices repeat across a catalog and across pages, and a Decimal128
# is fully named by its 16 bytes, so the conversions are kept per value (bounded, least recently
# used first out).
@functools.lru_cache(maxsize=1 << 16)
def _stored_decimal(bid: bytes) -> Decimal:
    return decimal_of(Decimal128.from_bid(bid))


@functools.lru_cache(maxsize=1 << 16)
def _stored_decimal_text(bid: bytes) -> str:
    return str(Decimal128.from_bid(bid))


def amount_text(value: Decimal128 | Decimal | str | int, currency: str) -> str:
    """The amount with exactly the currency's minor unit of decimals, rounded half-up.

    Stored prices are already quantized by the projector, so for them this changes nothing; an
    average gets rounded the way a shop would print it.
    """
    if isinstance(value, Decimal128):
        return _stored_amount_text(value.bid, currency)
    return _rounded_text(decimal(value), currency)


@functools.lru_cache(maxsize=1 << 16)
def _stored_amount_text(bid: bytes, currency: str) -> str:
    return _rounded_text(_stored_decimal(bid), currency)


def _rounded_text(number: Decimal, currency: str) -> str:
    try:
        places = minor_unit(currency)
    except ValueError:  # not a currency we can price in: show the stored value unchanged
        return format(number, "f")
    with localcontext() as ctx:
        ctx.prec = 40  # Decimal128 holds 34 digits; never lose any while rounding
        return format(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")


def money_output(price: PriceDocument) -> Document:
    """A stored price as the schema's Money: the amount as a decimal string."""
    return {
        "amount": amount_text(price["amount"], price["currency"]),
        "currency": price["currency"],
    }


def product(doc: ProductDocument) -> Document:
    """A Product of the schema from a `products` document (the caller has dropped tombstones)."""
    return {
        "id": doc["_id"],
        "sku": doc["sku"],
        "name": doc["name"],
        "description": doc.get("description"),
        "price": money_output(doc["price"]),
        "category": doc.get("category"),
        "tags": list(doc.get("tags") or ()),
        "brand": doc.get("brand"),
        "version": doc["version"],
        "createdAt": doc["createdAt"],
        "updatedAt": doc["updatedAt"],
    }


def live(doc: ProductDocument | None) -> Document | None:
    """The Product for a document, or None for no document or a tombstone."""
    if doc is None or doc.get("deleted"):
        return None
    return product(doc)


# The Product's fields whose values a ProductAnswer keeps as they are; the price follows as two.
_KEPT: tuple[str, ...] = ("id", "sku", "name", "description", "category", "tags", "brand")
_KEPT += ("version", "createdAt", "updatedAt")


@dataclass(frozen=True, slots=True)
class ProductAnswer:
    """What `product(id)` needs of one `products` document: its version, whether it is a
    tombstone, and the Product it answers, shaped already.

    The product cache keeps one per product and every request reads it, so the Product is kept
    as a tuple of immutable values (strings, numbers, datetimes, a tuple of tags), and each
    caller gets a dict of its own from `product()`: nothing a request does to its answer can
    change another's. (Such tuples are also untracked by CPython's cyclic GC, which is what
    lets the cache hold a whole catalog without long full collections.)
    """

    version: int
    deleted: bool
    values: tuple[Any, ...] | None  # _KEPT's values, then price amount and currency

    def product(self) -> Document | None:
        """A new Product dict, or None for a tombstone."""
        values = self.values
        if values is None:
            return None
        shaped = dict(zip(_KEPT, values, strict=False))
        shaped["price"] = {"amount": values[-2], "currency": values[-1]}
        return shaped


def answer(doc: ProductDocument) -> ProductAnswer:
    """What `product(id)` answers from a `products` document."""
    if doc.get("deleted"):
        return ProductAnswer(doc["version"], True, None)
    shaped = product(doc)
    shaped["tags"] = tuple(shaped["tags"])
    price = shaped["price"]
    return ProductAnswer(
        doc["version"], False, (*(shaped[f] for f in _KEPT), price["amount"], price["currency"])
    )


def event(doc: HistoryDocument) -> Document:
    """A ProductEvent from a `product_history` document, its data in the latest schema version.

    Documents stored before a newer version of their type existed are upcast here, so clients
    see one shape per type however old the read model is.
    """
    _, _, data = upcast(doc["type"], stored_version(doc), doc["data"])
    return {
        "eventId": doc["_id"],
        "type": doc["type"],
        "version": doc["version"],
        "occurredAt": doc["occurredAt"],
        "data": data,
    }


def category_stats(doc: CategoryStatsDocument) -> Document:
    currency = doc["currency"]
    return {
        "category": doc["category"],
        "currency": currency,
        "productCount": doc["productCount"],
        "minPrice": amount_text(doc["minPrice"], currency),
        "maxPrice": amount_text(doc["maxPrice"], currency),
        "averagePrice": amount_text(doc["averagePrice"], currency),
    }


def projection_status(doc: Document | None) -> Document:
    """The projector's status; an empty one before the projector wrote its first batch."""
    if doc is None:
        return {"partitions": [], "lastEventTime": None, "updatedAt": None}
    return {
        "partitions": [
            {"partition": p["partition"], "lag": p["lag"]} for p in doc.get("partitions", ())
        ],
        "lastEventTime": doc.get("lastEventTime"),
        "updatedAt": doc.get("updatedAt"),
    }
