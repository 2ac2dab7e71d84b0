"""The `product_history` read model: one document per event, keyed by the event id.

Keyed by `ce_id`, a redelivered event upserts onto itself, so the history never holds a
duplicate. `data` is the event as on the topic in the latest schema version of its type (a
record written in an older version is stored upcast), and `schemaVersion` says which version
that is, so readers can upcast documents stored before a later version existed. Documents
without `schemaVersion` were stored before versions were recorded, hence are version 1.
"""

from __future__ import annotations

from shared.domain.upcasting import read_event
from shared.envelope import Envelope
from shared.read_model.documents import HistoryDocument


def document(envelope: Envelope) -> HistoryDocument:
    return {
        "_id": envelope.event_id,
        "productId": envelope.product_id,
        "type": envelope.event.TYPE,
        "schemaVersion": envelope.event.VERSION,
        "version": envelope.sequence,
        "occurredAt": envelope.time,
        "data": envelope.event.data(),
    }


def stored_version(document: HistoryDocument) -> int:
    """The schema version of a history document's `data`."""
    return int(document.get("schemaVersion", 1))


def envelope(document: HistoryDocument) -> Envelope:
    """The envelope a history document was written from (minus tracing ids).

    A document stored in an older schema version is upcast like a record from the log, so a
    fold over history written before a version change gives what the projector gave.
    """
    event = read_event(document["type"], stored_version(document), document["data"])
    return Envelope(
        event=event,
        event_id=document["_id"],
        sequence=document["version"],
        time=document["occurredAt"],
        causation_id="",
        correlation_id="",
    )
