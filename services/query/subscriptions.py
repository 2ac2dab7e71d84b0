"""`productChanged`: product read-model changes as subscription events.

Fed by the shared change feed, so a subscriber costs a queue, not a MongoDB cursor. The feed sees
documents, not events: when the projector applied several events of a product in one batch, the
subscriber sees one change at the last version. Every subscriber of a change gets the same
SharedEvent, so the change is converted, and each distinct subscription query executed on it,
once for all of them (shared/adapters/graphql_http/shared_events.py).

With tracing on, each message sent is a span (`push productChanged`) in the trace of the event
that wrote the version pushed: a child of the context the projector stored with the document,
linked to the subscriber's connection. It covers the message's way out: graphql-core resolves
the change and ariadne sends it between one `__anext__` returning it and the next being
called, so the span starts as the change is handed over and ends when the next is asked for.
"""

from __future__ import annotations

from typing import cast

from opentelemetry.trace import Span

from services.query import documents
from services.query.change_feed import ChangeFeed, MissedChanges, ProductChanged
from services.query.errors import SubscriberTooSlow
from shared.adapters.graphql_http import SharedEvent
from shared.adapters.mongo import Document
from shared.adapters.tracing import PushSpans
from shared.read_model.documents import ProductDocument
from shared.read_model.products import trace_of


def change(notice: ProductChanged, doc: Document) -> Document:
    """A ProductChange: DELETED for a tombstone, CREATED for a new document, else UPDATED."""
    if doc.get("deleted"):
        kind = "DELETED"
    elif notice.operation == "insert" or doc["version"] == 1:
        kind = "CREATED"
    else:
        kind = "UPDATED"
    return {
        "id": notice.product_id,
        "type": kind,
        "version": doc["version"],
        "product": documents.live(cast(ProductDocument, doc)),
    }


def shared_change(notice: ProductChanged, doc: Document) -> SharedEvent:
    """The change of a notice as one SharedEvent for every subscriber it reaches, so that it is
    converted, and each distinct subscription query executed on it, once (shared_events.py).
    Nothing under `productChanged` reads the context, which that sharing requires."""
    event = notice.derived.get("push")
    if event is None:
        event = notice.derived["push"] = SharedEvent(change(notice, doc))
    return cast(SharedEvent, event)


class ProductChangeStream:
    """Changes of one product, or of all with None, until the client unsubscribes.

    An iterator object rather than an async generator, so that the listener joins the feed as
    soon as the subscription is accepted (not when its first change is awaited: nothing
    between the two may be lost) and leaves it in `aclose`, which graphql-core calls even when
    the client unsubscribed before the first change (an unstarted async generator would skip its
    `finally`, leaking the listener).

    A feed restart or a swapped-in read model does not end the subscription (the documents stay
    the fold of the same log); falling behind does, with SubscriberTooSlow, so that a client
    never silently misses a change.
    """

    def __init__(
        self, feed: ChangeFeed, product_id: str | None, spans: PushSpans | None = None
    ) -> None:
        self._feed = feed
        self._listener = feed.add(product_id)
        self._spans = spans if spans is not None and spans.tracing.recording else None
        self._subscriber = self._spans.subscriber() if self._spans is not None else None
        self._pushing: Span | None = None

    def __aiter__(self) -> ProductChangeStream:
        return self

    async def __anext__(self) -> SharedEvent:
        self._pushed()
        while True:
            notice = await self._listener.get()
            if isinstance(notice, MissedChanges):
                if notice.reason == "overflow":
                    await self.aclose()
                    raise SubscriberTooSlow()
                continue
            if notice.document is not None:
                event = shared_change(notice, notice.document)
                pushed = event.value
                if self._spans is not None:
                    self._pushing = self._spans.start(
                        trace_of(cast(ProductDocument, notice.document)),
                        self._subscriber,
                        {
                            "catalog.product.id": notice.product_id,
                            "catalog.product.version": pushed["version"],
                            "catalog.change.type": pushed["type"],
                        },
                    )
                return event

    async def aclose(self) -> None:
        self._pushed()
        self._feed.remove(self._listener)

    def _pushed(self) -> None:
        """The last change handed over has been sent: its span ends."""
        if self._pushing is not None:
            self._pushing.end()
            self._pushing = None
