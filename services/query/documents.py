"""Read-model documents → the shapes of query.graphql.

The read models keep money as Decimal128 so MongoDB filters and sorts on it exactly; clients get
decimal strings (DESIGN.md §2: never a float). Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from types import MappingProxyType
from typing import Any

from bson.decimal128 import Decimal128

from services.projector.projections.history import stored_version
from shared.domain.money import minor_unit
from shared.domain.upcasting import upcast

Document = dict[str, Any]


def decimal(value: Decimal128 | Decimal | str | int) -> Decimal:
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return Decimal(str(value))


def amount(value: Decimal128 | Decimal | str | int, currency: str) -> str:
    """The amount with exactly the currency's minor unit of decimals, rounded half-up.

    Stored prices are already quantized by the projector, so for them this changes nothing; an
    average gets rounded the way a shop would print it.
    """
    number = decimal(value)
    try:
        places = minor_unit(currency)
    except ValueError:  # not a currency we can price in: show the stored value unchanged
        return format(number, "f")
    with localcontext() as ctx:
        ctx.prec = 40  # Decimal128 holds 34 digits; never lose any while rounding
        return format(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")


def money(price: Document) -> Document:
    return {"amount": amount(price["amount"], price["currency"]), "currency": price["currency"]}


def product(doc: Document) -> Document:
    """A Product of the schema from a `products` document (the caller has dropped tombstones)."""
    return {
        "id": doc["_id"],
        "sku": doc["sku"],
        "name": doc["name"],
        "description": doc.get("description"),
        "price": money(doc["price"]),
        "category": doc.get("category"),
        "tags": list(doc.get("tags") or ()),
        "brand": doc.get("brand"),
        "version": doc["version"],
        "createdAt": doc["createdAt"],
        "updatedAt": doc["updatedAt"],
    }


def live(doc: Document | None) -> Document | None:
    """The Product for a document, or None for no document or a tombstone."""
    if doc is None or doc.get("deleted"):
        return None
    return product(doc)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What `product(id)` needs of one `products` document: its version, whether it is a
    tombstone, and the Product it answers (None for a tombstone).

    The product cache hands the same snapshot to every request, so the Product is shaped once
    and read-only all the way down (mapping proxies, a tuple of tags): a resolver that tried to
    change it would fail instead of changing the answer of every later request.
    """

    version: int
    deleted: bool
    product: Mapping[str, Any] | None


def snapshot(doc: Document) -> Snapshot:
    if doc.get("deleted"):
        return Snapshot(doc["version"], True, None)
    shaped = product(doc)
    shaped["price"] = MappingProxyType(shaped["price"])
    shaped["tags"] = tuple(shaped["tags"])
    return Snapshot(doc["version"], False, MappingProxyType(shaped))


def event(doc: Document) -> Document:
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


def category_stats(doc: Document) -> Document:
    currency = doc["currency"]
    return {
        "category": doc["category"],
        "currency": currency,
        "productCount": doc["productCount"],
        "minPrice": amount(doc["minPrice"], currency),
        "maxPrice": amount(doc["maxPrice"], currency),
        "averagePrice": amount(doc["averagePrice"], currency),
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
