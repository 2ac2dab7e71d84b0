"""Every MongoDB read the query service makes, one method per query of the schema.

Resolvers stay thin: they validate arguments, call one method here and shape the answer with
services.query.documents. All reads go to the primary (the client's default), so a version the
change feed reported is visible to the read that follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar, cast

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure

from services.query import point_in_time
from services.query.errors import ListingTooBroad, ReadModelsUnavailable
from services.query.listing import Page
from shared.adapters.mongo import CATEGORY_STATS, HISTORY, PRODUCTS, PROJECTION_STATUS, Document
from shared.read_model.documents import HistoryDocument, ProductDocument

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
# What a read meets when a rebuild renames fresh collections over the live ones mid-query:
# QueryPlanKilled, NamespaceNotFound, CursorNotFound, CursorKilled. Read again, from the new one.
_SWAPPED_UNDER_US = {175, 26, 43, 237}
_SCAN_BATCH = 500


def survives_swap(read: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Reads again after a rebuild's swap; an unreachable MongoDB (pymongo's ConnectionFailure:
    server selection timed out, connection lost, no primary; never a bad query) becomes
    ReadModelsUnavailable, which the client is told to retry."""

    @functools.wraps(read)
    async def again_if_swapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            for _ in range(3):
                try:
                    return await read(*args, **kwargs)
                except OperationFailure as exc:
                    if exc.code not in _SWAPPED_UNDER_US:
                        raise
            return await read(*args, **kwargs)
        except ConnectionFailure as exc:
            log.warning("read models unreachable: %s", exc)
            raise ReadModelsUnavailable() from None

    return again_if_swapped


# Listing scans no index narrows (`nameContains`) a query service runs at once.
SCANS_AT_ONCE = 2


class ReadModels:
    """`listing_max_time_ms` bounds what MongoDB may spend on one listing read (a page or a
    count): a filter no index narrows (`nameContains`) costs time in proportion to the catalog,
    and is refused with ListingTooBroad past the bound instead of holding the database.

    Such scans also run at most `scans_at_once` at a time; the others wait here, not in MongoDB.
    The bound is on MongoDB's wall-clock time, so a crowd of scans sharing its cores would each
    run past it, and all be refused, where one after the other they are served.
    """

    def __init__(
        self,
        db: AsyncDatabase[Document],
        listing_max_time_ms: int = 1000,
        scans_at_once: int = SCANS_AT_ONCE,
    ) -> None:
        self._db = db
        self._max_time_ms = listing_max_time_ms
        self.scans_at_once = scans_at_once
        self._scans = asyncio.Semaphore(scans_at_once)

    @survives_swap
    async def product(self, product_id: str) -> Document | None:
        """The product's document, tombstone included (the caller decides what deleted means)."""
        return await self._db[PRODUCTS].find_one({"_id": product_id})

    async def products(self, limit: int) -> AsyncIterator[Document]:
        """Up to `limit` product documents, tombstones included, in no particular order (to warm
        the product cache). Small batches, so that a consumer shaping each document as it comes
        does not hold the event loop for a whole 16 MB batch."""
        cursor = self._db[PRODUCTS].find().limit(limit).batch_size(_SCAN_BATCH)
        async for doc in cursor:
            yield doc

    @survives_swap
    async def page(self, page: Page) -> tuple[list[Document], bool]:
        """The page's rows and whether more follow (found by asking for one row more)."""
        products = self._db[PRODUCTS]
        async with self._listing(page):
            if page.limit == 0:
                more = await products.find_one(
                    page.query, {"_id": 1}, max_time_ms=self._max_time_ms
                )
                return [], more is not None
            cursor = products.find(page.query, max_time_ms=self._max_time_ms)
            rows = await cursor.sort(page.order.spec()).limit(page.limit + 1).to_list()
        return rows[: page.limit], len(rows) > page.limit

    @survives_swap
    async def count(self, page: Page) -> int:
        """How many rows the page's filter selects in all (`totalCount`)."""
        options: dict[str, Any] = {"maxTimeMS": self._max_time_ms}
        if page.count_index:
            options["hint"] = page.count_index
        async with self._listing(page):
            return await self._db[PRODUCTS].count_documents(page.count_query, **options)

    @contextlib.asynccontextmanager
    async def _listing(self, page: Page) -> AsyncIterator[None]:
        """A listing read: a scan waits for its turn; past the time bound, ListingTooBroad."""
        async with self._scans if page.scans else contextlib.nullcontext():
            try:
                yield
            except ExecutionTimeout:
                raise ListingTooBroad(self._max_time_ms) from None

    @survives_swap
    async def history(self, product_id: str) -> list[Document]:
        cursor = self._db[HISTORY].find({"productId": product_id}).sort("version", 1)
        return await cursor.to_list()

    @survives_swap
    async def product_at(self, product_id: str, at: datetime) -> ProductDocument | None:
        cursor = self._db[HISTORY].find({"productId": product_id, "occurredAt": {"$lte": at}})
        entries = cast(list[HistoryDocument], await cursor.sort("version", 1).to_list())
        return point_in_time.fold(entries, at)

    @survives_swap
    async def categories(self) -> list[Document]:
        cursor = self._db[CATEGORY_STATS].find().sort([("category", 1), ("currency", 1)])
        return await cursor.to_list()

    @survives_swap
    async def projection_status(self) -> Document | None:
        return await self._db[PROJECTION_STATUS].find_one({"_id": "projector"})
