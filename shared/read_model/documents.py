"""What the read-model collections hold, document by document (see docs/architecture.md, Read models).

Money is Decimal128, so MongoDB filters and sorts on prices exactly; times are timezone-aware.
Documents read back from MongoDB arrive as plain dicts; code that knows a collection's shape
casts them to these types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict

from bson.decimal128 import Decimal128


class PriceDocument(TypedDict):
    amount: Decimal128
    currency: str


class TraceDocument(TypedDict):
    """W3C Trace Context of the span that wrote a document's version (shared/envelope.py)."""

    traceparent: str
    tracestate: NotRequired[str]


class ProductDocument(TypedDict):
    _id: str
    sku: str
    name: str
    description: str | None
    price: PriceDocument
    category: str | None
    tags: list[str]
    brand: str | None
    version: int
    createdAt: datetime
    updatedAt: datetime
    deleted: bool  # a tombstone keeps its version, so it still guards
    # The trace its current version was written in (absent if its event carried none): what a
    # subscription push of this version continues.
    trace: NotRequired[TraceDocument]


class HistoryDocument(TypedDict):
    _id: str  # the event's ce_id
    productId: str
    type: str
    schemaVersion: NotRequired[int]  # absent: stored before versions were recorded, so 1
    version: int
    occurredAt: datetime
    data: dict[str, Any]


class StatsKey(TypedDict):
    category: str
    currency: str


class CategoryStatsDocument(TypedDict):
    _id: StatsKey
    category: str
    currency: str
    productCount: int
    priceSum: Decimal128
    minPrice: Decimal128
    maxPrice: Decimal128
    averagePrice: Decimal128
