"""One change stream on the `products` read model, fanned out to everyone waiting on it.

`minVersion` waits and subscriptions both need to hear about product changes. Each opening its
own change stream would hold a pooled connection per waiter for every awaitData getMore, so a
few hundred concurrent waiters would starve ordinary queries of connections. Instead the service
keeps one stream and hands its changes to in-process listeners.

The stream watches the database, not the collection, and keeps only events of the collection
named `products`: a rebuilt read model swapped in by renaming it over `products` would
invalidate a collection stream, while a database stream simply goes on with the new collection
(and reports the rename, which listeners treat as "re-read"). A dropped `products` is reported
the same way, and a deleted document as a change whose document vanished: the projector does
neither, but the product cache must not outlive them.

Race-freedom for waiters: a listener registers first, then reads the document, then waits.
A change committed after the read comes through the stream afterwards. Whenever the stream
(re)opens without continuing from a resume token — at startup, or after the oplog lost our
position — every registered listener gets a `MissedChanges`, since changes may have slipped through
the gap; waiters then re-read.

Observers (the product cache) get every notice synchronously, before any listener does, so
whatever a woken listener reads through them already reflects the change that woke it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from prometheus_client import Counter, Gauge
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from shared.adapters.mongo import PRODUCTS, Document
from shared.backoff import Backoff

log = logging.getLogger(__name__)

LISTENERS = Gauge("catalog_query_change_listeners", "Subscriptions and minVersion waits listening")
REOPENED = Counter("catalog_query_change_stream_reopened_total", "Change stream reopened on errors")

# Server error codes after which a resume token cannot be used any more.
_HISTORY_LOST = {280, 286}
_LISTENER_BACKLOG = 1000

_PIPELINE: list[Document] = [
    {
        "$match": {
            "$or": [
                {
                    "ns.coll": PRODUCTS,
                    "operationType": {"$in": ["insert", "replace", "update", "delete", "drop"]},
                },
                {"operationType": "rename", "to.coll": PRODUCTS},
            ]
        }
    }
]


@dataclass(frozen=True, slots=True)
class ProductChanged:
    product_id: str
    operation: str  # insert, replace, update or delete
    document: Document | None  # the document after the change; None if deleted or gone since
    # What listeners derive from the notice, made by the first of them for all the others: every
    # listener of a change gets this same notice object (subscriptions.py keeps its push here).
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MissedChanges:
    """Changes may have been missed: re-read what you depend on."""

    reason: Literal["restart", "swap", "overflow"]


Notice = ProductChanged | MissedChanges
Observer = Callable[[Notice], None]


@dataclass(eq=False)
class Listener:
    """Changes of one product (or of all, with product_id None) in the order MongoDB made them."""

    product_id: str | None
    queue: asyncio.Queue[Notice] = field(
        default_factory=lambda: asyncio.Queue(maxsize=_LISTENER_BACKLOG)
    )

    def push(self, notice: Notice) -> None:
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            # The listener stopped keeping up: replace its backlog by one "you missed some".
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(MissedChanges("overflow"))

    async def get(self) -> Notice:
        return await self.queue.get()


class ChangeFeed:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._listeners: dict[str | None, set[Listener]] = {}
        self._observers: list[Observer] = []
        self.opened = asyncio.Event()

    def observe(self, observer: Observer) -> None:
        """Hands every notice to `observer`, synchronously and before any listener gets it."""
        self._observers.append(observer)

    def add(self, product_id: str | None = None) -> Listener:
        listener = Listener(product_id)
        self._listeners.setdefault(product_id, set()).add(listener)
        LISTENERS.inc()
        return listener

    def remove(self, listener: Listener) -> None:
        group = self._listeners.get(listener.product_id)
        if group is not None and listener in group:
            group.discard(listener)
            LISTENERS.dec()
            if not group:
                del self._listeners[listener.product_id]

    @contextlib.contextmanager
    def listen(self, product_id: str | None = None) -> Iterator[Listener]:
        listener = self.add(product_id)
        try:
            yield listener
        finally:
            self.remove(listener)

    @property
    def listeners(self) -> int:
        return sum(len(group) for group in self._listeners.values())

    async def run(self) -> None:
        """Follow the stream until cancelled, reopening it (from its resume token) on errors."""
        token: Mapping[str, Any] | None = None
        backoff = Backoff(first_s=0.1, cap_s=5.0)
        while True:
            try:
                async with await self._db.watch(
                    _PIPELINE, full_document="updateLookup", start_after=token
                ) as stream:
                    if token is None:
                        self._broadcast(MissedChanges("restart"))
                    self.opened.set()
                    backoff.reset()
                    while stream.alive:
                        change = await stream.try_next()  # a server-side wait of up to 1 s
                        token = stream.resume_token
                        if change is not None:
                            self._dispatch(change)
            except OperationFailure as exc:
                if exc.code in _HISTORY_LOST:
                    log.warning("change stream position lost; restarting from now: %s", exc)
                    token = None
                else:
                    log.warning("change stream failed; reopening", exc_info=True)
            except PyMongoError:
                log.warning("change stream failed; reopening", exc_info=True)
            except Exception:  # a change we could not handle must not stop the feed for good
                log.exception("change feed failed; reopening")
            self.opened.clear()
            REOPENED.inc()
            await backoff.wait()

    def _dispatch(self, change: Document) -> None:
        if change["operationType"] in ("rename", "drop"):
            self._broadcast(MissedChanges("swap"))
            return
        product_id = change["documentKey"]["_id"]
        notice = ProductChanged(product_id, change["operationType"], change.get("fullDocument"))
        for observer in self._observers:
            observer(notice)
        for key in (product_id, None):
            for listener in self._listeners.get(key, ()):
                listener.push(notice)

    def _broadcast(self, notice: Notice) -> None:
        for observer in self._observers:
            observer(notice)
        for group in self._listeners.values():
            for listener in group:
                listener.push(notice)
