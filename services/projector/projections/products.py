"""The `products` read model: one document per product, its current state.

A deleted product keeps a tombstone (`deleted: true`) so that its version still guards against
redelivered events; queries filter tombstones out. Prices are Decimal128 so that filters and
sorts on them are exact.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

from shared.adapters.mongo import decimal128
from shared.domain.events import ProductCreated, ProductUpdated
from shared.domain.money import Money
from shared.envelope import Envelope

Document = dict[str, Any]


def money(price: Money) -> Document:
    return {"amount": decimal128(price.amount), "currency": price.currency}


class Verdict(Enum):
    APPLY = "apply"
    SKIP = "skip"  # at or below the document's version: applied before, a redelivery
    GAP = "gap"  # beyond the next version: an earlier event is missing, refuse to apply over it


def admit(document: Document | None, envelope: Envelope) -> Verdict:
    """The version guard: whether an event is the document's next one."""
    version = document["version"] if document else 0
    if envelope.sequence <= version:
        return Verdict.SKIP
    return Verdict.APPLY if envelope.sequence == version + 1 else Verdict.GAP


def apply(document: Document | None, envelope: Envelope) -> Document:
    """The document after one more event; the caller has checked the event is the next one."""
    event = envelope.event
    if isinstance(event, ProductCreated):
        return {
            "_id": event.id,
            "sku": event.sku,
            "name": event.name,
            "description": event.description,
            "price": money(event.price),
            "category": event.category,
            "tags": list(event.tags),
            "brand": event.brand,
            "version": envelope.sequence,
            "createdAt": envelope.time,
            "updatedAt": envelope.time,
            "deleted": False,
        }
    if document is None:
        raise ValueError(f"{event.TYPE} for unknown product {event.id}")
    updated = {**document, "version": envelope.sequence, "updatedAt": envelope.time}
    if isinstance(event, ProductUpdated):
        for field, value in event.changes().items():
            if field == "price":
                updated["price"] = money(value)
            elif field == "tags":
                updated["tags"] = list(value or ())
            else:
                updated[field] = value
        return updated
    updated["deleted"] = True
    return updated


def amount(document: Document) -> Decimal:
    return Decimal(str(document["price"]["amount"]))
