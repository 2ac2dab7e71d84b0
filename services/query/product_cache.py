"""`products` documents held in memory for `product(id)`, kept current by the change feed.

Reading each product from MongoDB was the biggest part of a `product(id)` request's CPU
(bench/RESULTS.md), while the service's change feed already receives every product document
after each change. So the query service keeps the catalog's products (read in at start, or as
they are asked for), already shaped for GraphQL, and lets the feed keep them current. It serves a cached version no older than the
feed's position: a write becomes visible here when the feed reports it (as it does to
`minVersion` waits), never later. What makes that hold:

- The feed hands the cache each notice synchronously, before any listener wakes, so a listener
  woken by a change and reading through the cache sees that change (`wait_for_version` relies
  on this).
- A change of a cached product replaces its entry unless the entry is newer (the feed's
  `updateLookup` may report a later document than the change; a read filled in meanwhile may
  be later still). A document that vanished drops its entry.
- A miss is read from MongoDB and stored only if nothing that could make it stale was dispatched
  while the read was in flight: no change of that product (MongoDB may have answered with the
  version before it, which no later notice would correct) and no MissedChanges.
- A MissedChanges (the stream restarted without its position, a rebuilt read model renamed over
  `products`, a dropped one) drops every entry. While the feed is closed the cache is bypassed,
  and the first read that finds it closed drops every entry too: the feed may resume from its
  token and report the changes of the outage only later, and a client that read them from
  MongoDB meanwhile must not then be answered older cached ones.
- Warming (reading the catalog in, up to the cache's size, after every start, swap or outage,
  so that reads do not each pay a miss first) follows the fill rule for each product: one
  changed since the warm-up began is left to be read on demand; a MissedChanges stops the warm-up.
- No document is not cached: a creation would arrive as a change of a product the cache does
  not hold, and the gain (ids that do not exist) is not worth that extra rule.

Bounded LRU (cachetools' LRUCache); `QUERY_PRODUCT_CACHE_SIZE` entries (0 turns the cache
off). A read, a fill and a change each count as a use; products read in by a warm-up count as
used before the requests served meanwhile, so those stay longer. An entry costs about 1 KB,
more with long texts (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, cast

from cachetools import LRUCache
from prometheus_client import Counter, Gauge
from pymongo.errors import PyMongoError

from services.query.change_feed import ChangeFeed, MissedChanges, Notice
from services.query.documents import ProductAnswer, answer
from services.query.errors import ReadModelsUnavailable
from shared.adapters.mongo import Document
from shared.read_model.documents import ProductDocument

log = logging.getLogger(__name__)

HITS = Counter("catalog_query_product_cache_hits_total", "product(id) reads answered from memory")
MISSES = Counter(
    "catalog_query_product_cache_misses_total", "product(id) reads that went to MongoDB"
)
STALE_FILLS = Counter(
    "catalog_query_product_cache_fills_discarded_total",
    "MongoDB reads not cached because a change or resync raced them",
)
ENTRIES = Gauge("catalog_query_product_cache_entries", "Products held by the product cache")

ReadDocument = Callable[[str], Awaitable[Document | None]]
Scan = Callable[[int], AsyncIterable[Document]]
_WARM_RETRY_S = 5.0
_WARM_SLICE = 64
# A ProductAnswer as one flat, exact tuple of immutable values (version, deleted, then the
# Product's values, if any). CPython's cyclic GC stops tracking such a tuple soon after it is
# made, so a whole catalog of them adds nothing to full collections, which objects would make
# long pauses of (bench/RESULTS.md).
_Entry = tuple[Any, ...]


def _entry(found: ProductAnswer) -> _Entry:
    return (found.version, found.deleted, *(found.values or ()))


def _answer(entry: _Entry) -> ProductAnswer:
    return ProductAnswer(entry[0], entry[1], entry[2:] or None)


class ProductCache:
    def __init__(
        self, feed: ChangeFeed, read: ReadDocument, size: int, scan: Scan | None = None
    ) -> None:
        """`read` finds one product's document; `scan`, if given, yields up to n of them to
        warm the cache with."""
        self._feed = feed
        self._read = read
        self._scan = scan
        self._size = size
        self._entries: LRUCache[str, _Entry] = LRUCache(maxsize=max(size, 1))
        # Bumped whenever every entry is dropped: a fill started before must not be stored.
        self._epoch = 0
        # Counts the product changes dispatched; `_changed` keeps, only for products with a
        # fill in flight, the count at their last change.
        self._changes = 0
        self._changed: dict[str, int] = {}
        self._filling: Tally[str] = Tally()
        self._warm_changed: set[str] | None = None  # while warming: products changed since
        self._warm_used: set[str] = set()  # while warming: products requests used
        self._emptied = asyncio.Event()
        if size > 0:
            feed.observe(self._observe)
            ENTRIES.set_function(lambda: len(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, product_id: str) -> ProductAnswer | None:
        """The product's answer (tombstones included), from memory when held."""
        if self._size > 0 and self._feed.opened.is_set():
            entry = self._entries.get(product_id)  # a use: now the most recent
            if entry is not None:
                if self._warm_changed is not None:
                    self._warm_used.add(product_id)
                HITS.inc()
                return _answer(entry)
            MISSES.inc()
            return await self._fill(product_id)
        if self._entries:
            self._drop()
        else:  # a fill in flight since before the feed closed must not be stored either
            self._epoch += 1
        MISSES.inc()
        doc = await self._read(product_id)
        return None if doc is None else answer(cast(ProductDocument, doc))

    async def run(self) -> None:
        """Warms the cache whenever it was emptied while the feed is (again) open; until cancelled."""
        if self._size <= 0 or self._scan is None:
            return
        while True:
            await self._feed.opened.wait()
            self._emptied.clear()
            try:
                await self._warm(self._scan)
            except (PyMongoError, ReadModelsUnavailable):
                log.warning("could not warm the product cache; retrying", exc_info=True)
                await asyncio.sleep(_WARM_RETRY_S)
                continue
            except Exception:  # a bug: products are still cached as they are asked for
                log.exception("warming the product cache failed")
            await self._emptied.wait()

    async def _warm(self, scan: Scan) -> None:
        epoch = self._epoch
        self._warm_changed = set()
        try:
            async for doc in scan(self._size):
                if epoch != self._epoch or not self._feed.opened.is_set():
                    return
                product_id = doc["_id"]
                if product_id in self._warm_changed or product_id in self._entries:
                    continue
                if len(self._entries) >= self._size:
                    return
                try:
                    entry = _entry(answer(cast(ProductDocument, doc)))
                except Exception:  # left to fail on its own reads, not to stop the warm-up
                    log.exception("could not cache product %s", product_id)
                    continue
                self._entries[product_id] = entry
                if len(self._entries) % _WARM_SLICE == 0:
                    await asyncio.sleep(0)  # let requests in: a batch is shaped in one go otherwise
        finally:
            self._warm_changed = None
            for product_id in self._warm_used:  # what requests used stays newer than the rest
                self._entries.get(product_id)
            self._warm_used.clear()

    async def _fill(self, product_id: str) -> ProductAnswer | None:
        epoch, changes = self._epoch, self._changes
        self._filling[product_id] += 1
        try:
            doc = await self._read(product_id)
        finally:
            self._filling[product_id] -= 1
            if self._filling[product_id]:
                changed = self._changed.get(product_id, 0)
            else:
                del self._filling[product_id]
                changed = self._changed.pop(product_id, 0)
        if doc is None:
            return None
        entry = answer(cast(ProductDocument, doc))
        if epoch != self._epoch or changed > changes or not self._feed.opened.is_set():
            STALE_FILLS.inc()
            return entry
        held = self._entries.get(product_id)
        if held is None or held[0] <= entry.version:
            self._entries[product_id] = _entry(entry)  # the least recently used goes if full
        if self._warm_changed is not None:
            self._warm_used.add(product_id)
        return entry

    def _observe(self, notice: Notice) -> None:
        if isinstance(notice, MissedChanges):
            self._drop()
            return
        self._changes += 1
        product_id = notice.product_id
        if product_id in self._filling:
            self._changed[product_id] = self._changes
        if self._warm_changed is not None:
            self._warm_changed.add(product_id)
        held = self._entries.get(product_id)
        if held is None:
            return
        doc = notice.document
        if doc is None:
            del self._entries[product_id]
        elif doc["version"] >= held[0]:
            try:
                self._entries[product_id] = _entry(answer(cast(ProductDocument, doc)))
            except Exception:
                # Raising here would stop the feed for every listener, on this change each
                # time it reopens. The product's own reads will fail the way this did.
                log.exception("could not cache product %s as changed", product_id)
                del self._entries[product_id]

    def _drop(self) -> None:
        self._entries.clear()
        self._epoch += 1
        self._emptied.set()
