"""`productAt`: a product as it was at a moment, by folding its history up to then.

The fold is the read model's own `products.apply`, fed with the history documents turned back
into envelopes, so a product "as of now" computed here equals the `products` read model by
construction rather than by a second implementation that could drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.read_model import history, products
from shared.read_model.documents import HistoryDocument, ProductDocument


def fold(entries: Iterable[HistoryDocument], at: datetime) -> ProductDocument | None:
    """The product document after its events up to `at` (given oldest first); None before any.

    Stops at the first event after `at` or at a hole in the versions, so the result is always
    the state after a prefix of the log, never a mix.
    """
    doc: ProductDocument | None = None
    version = 0
    for entry in entries:
        if entry["version"] != version + 1 or entry["occurredAt"] > at:
            break
        doc = products.apply(doc, history.envelope(entry))
        version = entry["version"]
    return doc
