"""Envelopes for the tests to project with the real projector writer, so the query service is
tested against exactly the documents the projector writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.domain.events import ProductCreated, ProductDeleted, ProductUpdated
from shared.envelope import Envelope


def new_id() -> str:
    return str(uuid.uuid4())


def _envelope(event: Any, version: int, time: datetime | None) -> Envelope:
    return Envelope(
        event=event,
        event_id=new_id(),
        sequence=version,
        time=time or datetime.now(UTC),
        causation_id=new_id(),
        correlation_id=new_id(),
    )


def created(
    product_id: str,
    name: str = "Mug",
    amount: str = "9.99",
    currency: str = "EUR",
    *,
    category: str | None = None,
    tags: tuple[str, ...] = (),
    sku: str = "MUG-1",
    description: str | None = None,
    brand: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    event = ProductCreated(
        id=product_id,
        sku=sku,
        name=name,
        description=description,
        price={"amount": amount, "currency": currency},
        category=category,
        tags=tags,
        brand=brand,
    )
    return _envelope(event, 1, time)


def updated(
    product_id: str, version: int, time: datetime | None = None, **changes: Any
) -> Envelope:
    return _envelope(ProductUpdated(id=product_id, **changes), version, time)


def deleted(product_id: str, version: int, time: datetime | None = None) -> Envelope:
    return _envelope(ProductDeleted(id=product_id), version, time)
