"""Records as the first version of the catalog wrote them (`catalog.<Type>.v1`, no `brand`).

Built by hand, not with today's models: header for header and key for key what the v1 command
service put on the topic, so the tests prove that today's code reads yesterday's log.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from shared.envelope import Envelope

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def v1_record(
    product_id: str,
    type_: str,
    sequence: int,
    data: dict[str, Any],
    command_id: str | None = None,
    time: datetime | None = None,
    event_id: str | None = None,
) -> Record:
    """A v1 record; `data` is the value without the id (added here, first, as v1 did)."""
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id or str(uuid.uuid4()),
        "ce_source": "/catalog/command-service",
        "ce_type": f"catalog.{type_}.v1",
        "ce_time": (time or datetime.now(UTC))
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z"),
        "ce_subject": product_id,
        "content-type": "application/json",
        "ce_sequence": str(sequence),
        "ce_correlationid": uuid.uuid4().hex,
        "ce_causationid": command_id or str(uuid.uuid4()),
    }
    value = orjson.dumps({"id": product_id, **data})
    return product_id.encode(), value, [(k, v.encode()) for k, v in headers.items()]


def created_v1(
    product_id: str,
    sku: str,
    name: str,
    amount: str,
    currency: str = "EUR",
    *,
    description: str | None = None,
    category: str | None = None,
    tags: tuple[str, ...] = (),
    command_id: str | None = None,
    time: datetime | None = None,
) -> Record:
    """A v1 ProductCreated: every field but `brand`, which v1 did not have."""
    data = {
        "sku": sku,
        "name": name,
        "description": description,
        "price": {"currency": currency, "amount": amount},
        "category": category,
        "tags": list(tags),
    }
    return v1_record(product_id, "ProductCreated", 1, data, command_id, time)


def updated_v1(
    product_id: str,
    sequence: int,
    command_id: str | None = None,
    time: datetime | None = None,
    **changes: Any,
) -> Record:
    """A v1 ProductUpdated with only the changed fields (camelCase, prices as dicts)."""
    return v1_record(product_id, "ProductUpdated", sequence, changes, command_id, time)


def deleted_v1(
    product_id: str, sequence: int, command_id: str | None = None, time: datetime | None = None
) -> Record:
    return v1_record(product_id, "ProductDeleted", sequence, {}, command_id, time)


def as_v1(envelope: Envelope) -> Record | None:
    """The record v1 code would have written for this event; None if v1 could not say it
    (a brand set on creation, or a brand change)."""
    data = envelope.event.data()
    type_ = envelope.event.TYPE
    if type_ == "ProductCreated":
        if data.pop("brand") is not None:
            return None
    elif "brand" in data:
        return None
    data.pop("id")
    return v1_record(
        envelope.product_id,
        type_,
        envelope.sequence,
        data,
        envelope.causation_id,
        envelope.time,
        envelope.event_id,
    )
