"""`productAt`: a product as it was at a moment, by folding its history up to then.

The fold is the projector's own `products.apply`, fed with the history documents turned back
into envelopes, so a product "as of now" computed here equals the `products` read model by
construction rather than by a second implementation that could drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.projector.projections import history as history_model
from services.projector.projections import products
from shared.adapters.mongo import Document
from shared.domain.upcasting import read_event
from shared.envelope import Envelope


def envelope(history: Document) -> Envelope:
    """The envelope a `product_history` document was written from (minus tracing ids).

    A document stored in an older schema version is upcast like a record from the log, so time
    travel over history written before a version change folds the same as the projector did.
    """
    version = history_model.stored_version(history)
    event = read_event(history["type"], version, history["data"])
    return Envelope(
        event=event,
        event_id=history["_id"],
        sequence=history["version"],
        time=history["occurredAt"],
        causation_id="",
        correlation_id="",
    )


def fold(history: Iterable[Document], at: datetime) -> Document | None:
    """The product document after its events up to `at` (given oldest first); None before any.

    Stops at the first event after `at` or at a hole in the versions, so the result is always
    the state after a prefix of the log, never a mix.
    """
    doc: Document | None = None
    version = 0
    for entry in history:
        if entry["version"] != version + 1 or entry["occurredAt"] > at:
            break
        doc = products.apply(doc, envelope(entry))
        version = entry["version"]
    return doc
