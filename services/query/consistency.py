"""Read-your-writes: wait until a product's read model has caught up with a version.

A mutation answers with the product's new version; the projector applies the event a little
later. `product(id, minVersion)` bridges that gap by waiting on the change feed — woken by the
write itself, never polling — for at most the configured bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import cast

from prometheus_client import Counter, Histogram

from services.query.change_feed import ChangeFeed, ProductChanged
from services.query.documents import ProductAnswer, answer
from services.query.errors import ConsistencyTimeout
from shared.read_model.documents import ProductDocument

ReadAnswer = Callable[[], Awaitable[ProductAnswer | None]]

WAITS = Histogram(
    "catalog_query_min_version_wait_seconds", "Time minVersion queries waited for the projector"
)
TIMEOUTS = Counter(
    "catalog_query_consistency_timeouts_total", "minVersion queries that gave up waiting"
)


def settled(found: ProductAnswer | None, min_version: int) -> bool:
    """Whether waiting longer could change the answer.

    A deleted product never gets another version, so its tombstone settles any wait.
    """
    return found is not None and (found.deleted or found.version >= min_version)


async def wait_for_version(
    feed: ChangeFeed, read: ReadAnswer, product_id: str, min_version: int, timeout_s: float
) -> ProductAnswer | None:
    """The product (tombstone included) once it is at `min_version` or deleted.

    Raises ConsistencyTimeout when that takes longer than `timeout_s`. The order — listen,
    then read, then wait — is what makes this race-free: a write between the read and the
    wait still arrives through the listener. The read may come from the product cache, which
    the feed updates before it wakes any listener, so whatever the cache does not show yet is
    still to come through the listener too. Listening before the first read, even when that
    read turns out settled, costs less than a second read for every query that has to wait.
    """
    with feed.listen(product_id) as listener:
        found = await read()
        if settled(found, min_version):
            return found
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout_s):
                while not settled(found, min_version):
                    notice = await listener.get()
                    if isinstance(notice, ProductChanged) and notice.document is not None:
                        if found is None or notice.document["version"] >= found.version:
                            found = answer(cast(ProductDocument, notice.document))
                    else:  # a gap in the feed, a swapped-in collection, or a vanished document
                        found = await read()
        except TimeoutError:
            TIMEOUTS.inc()
            raise ConsistencyTimeout(min_version, found.version if found else 0) from None
        finally:
            WAITS.observe(time.monotonic() - started)
    return found
