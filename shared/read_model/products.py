"""The `products` read model: one document per product, its current state (a view, in fmodel's
sense: `apply` folds an event into the document, `admit` says whether it is the next one).

A deleted product keeps a tombstone (`deleted: true`) so that its version still guards against
redelivered events; queries filter tombstones out. The version rule is shared/domain/versions.py,
the same the write side folds by: the live writer, the rebuild's bulk pass and the dead-letter
re-drive all ask `admit`, which applies it to a document.
"""

from __future__ import annotations

from shared.domain.events import ProductCreated, ProductUpdated
from shared.domain.versions import Verdict, verdict
from shared.envelope import Envelope, TraceContext
from shared.read_model.documents import ProductDocument, TraceDocument
from shared.read_model.prices import price_document


def admit(document: ProductDocument | None, envelope: Envelope) -> Verdict:
    """The version guard: whether an event is the document's next one (the one rule of
    shared/domain/versions.py, which the write side's fold keeps too)."""
    return verdict(document["version"] if document else 0, envelope.sequence)


def apply(document: ProductDocument | None, envelope: Envelope) -> ProductDocument:
    """The document after one more event; the caller has checked the event is the next one."""
    applied = _fold(document, envelope)
    if envelope.trace is not None:
        applied["trace"] = trace_document(envelope.trace)
    else:
        applied.pop("trace", None)
    return applied


def trace_document(trace: TraceContext) -> TraceDocument:
    stored: TraceDocument = {"traceparent": trace.traceparent}
    if trace.tracestate:
        stored["tracestate"] = trace.tracestate
    return stored


def trace_of(document: ProductDocument) -> TraceContext | None:
    """The trace a document's current version was written in, if any."""
    stored = document.get("trace")
    if stored is None:
        return None
    return TraceContext(stored["traceparent"], stored.get("tracestate", ""))


def _fold(document: ProductDocument | None, envelope: Envelope) -> ProductDocument:
    event = envelope.event
    if isinstance(event, ProductCreated):
        return {
            "_id": event.id,
            "sku": event.sku,
            "name": event.name,
            "description": event.description,
            "price": price_document(event.price),
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
    updated: ProductDocument = {
        **document,
        "version": envelope.sequence,
        "updatedAt": envelope.time,
    }
    if isinstance(event, ProductUpdated):
        changed = event.model_fields_set
        # name and price are never null in an update (the event's schema says so)
        if "name" in changed and event.name is not None:
            updated["name"] = event.name
        if "price" in changed and event.price is not None:
            updated["price"] = price_document(event.price)
        if "description" in changed:
            updated["description"] = event.description
        if "category" in changed:
            updated["category"] = event.category
        if "brand" in changed:
            updated["brand"] = event.brand
        if "tags" in changed:
            updated["tags"] = list(event.tags or ())
        return updated
    updated["deleted"] = True
    return updated


__all__ = ["Verdict", "admit", "apply", "trace_document", "trace_of"]
