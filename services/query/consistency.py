"""Read-your-writes: wait until a product's read model has caught up with a version.

A mutation answers with the product's new version; the projector applies the event a little
later. `product(id, minVersion)` bridges that gap by waiting on the change feed — woken by the
write itself, never polling — for at most the configured bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from prometheus_client import Counter, Histogram

from services.query.change_feed import ChangeFeed, ProductChanged
from services.query.errors import ConsistencyTimeout
from shared.adapters.mongo import Document

Read = Callable[[], Awaitable[Document | None]]

WAITS = Histogram(
    "catalog_query_min_version_wait_seconds", "Time minVersion queries waited for the projector"
)
TIMEOUTS = Counter(
    "catalog_query_consistency_timeouts_total", "minVersion queries that gave up waiting"
)


def settled(doc: Document | None, min_version: int) -> bool:
    """Whether waiting longer could change the answer.

    A deleted product never gets another version, so its tombstone settles any wait.
    """
    return doc is not None and (bool(doc.get("deleted")) or doc["version"] >= min_version)


def _newer(current: Document | None, candidate: Document | None) -> Document | None:
    if candidate is None:
        return current
    if current is None or candidate["version"] >= current["version"]:
        return candidate
    return current


async def wait_for_version(
    feed: ChangeFeed, read: Read, product_id: str, min_version: int, timeout_s: float
) -> Document | None:
    """The product's document (tombstone included) once it is at `min_version` or deleted.

    Raises ConsistencyTimeout when that takes longer than `timeout_s`. The order — listen,
    then read, then wait — is what makes this race-free: a write between the read and the
    wait still arrives through the listener.
    """
    doc = await read()
    if settled(doc, min_version):
        return doc
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            with feed.listen(product_id) as listener:
                doc = await read()
                while not settled(doc, min_version):
                    notice = await listener.get()
                    if isinstance(notice, ProductChanged) and notice.document is not None:
                        doc = _newer(doc, notice.document)
                    else:  # a gap in the feed, a swapped-in collection, or a vanished document
                        doc = await read()
    except TimeoutError:
        TIMEOUTS.inc()
        raise ConsistencyTimeout(min_version, doc["version"] if doc else 0) from None
    finally:
        WAITS.observe(time.monotonic() - started)
    return doc
