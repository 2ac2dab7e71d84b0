"""The `product_history` read model: one document per event, keyed by the event id.

Keyed by `ce_id`, a redelivered event upserts onto itself, so the history never holds a
duplicate. `data` is the event as on the topic in the latest schema version of its type (a
record written in an older version is stored upcast), and `schemaVersion` says which version
that is, so readers can upcast documents stored before a later version existed. Documents
without `schemaVersion` were stored before versions were recorded, hence are version 1.
"""

from __future__ import annotations

from typing import Any

from shared.envelope import Envelope


def document(envelope: Envelope) -> dict[str, Any]:
    return {
        "_id": envelope.event_id,
        "productId": envelope.product_id,
        "type": envelope.event.TYPE,
        "schemaVersion": envelope.event.VERSION,
        "version": envelope.sequence,
        "occurredAt": envelope.time,
        "data": envelope.event.data(),
    }


def stored_version(document: dict[str, Any]) -> int:
    """The schema version of a history document's `data`."""
    return int(document.get("schemaVersion", 1))
