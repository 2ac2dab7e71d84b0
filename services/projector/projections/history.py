"""The `product_history` read model: one document per event, keyed by the event id.

Keyed by `ce_id`, a redelivered event upserts onto itself, so the history never holds a
duplicate; `data` is the event exactly as it is on the topic.
"""

from __future__ import annotations

from typing import Any

from shared.envelope import Envelope


def document(envelope: Envelope) -> dict[str, Any]:
    return {
        "_id": envelope.event_id,
        "productId": envelope.product_id,
        "type": envelope.event.TYPE,
        "version": envelope.sequence,
        "occurredAt": envelope.time,
        "data": envelope.event.data(),
    }
