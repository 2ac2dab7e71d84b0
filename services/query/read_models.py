"""Every MongoDB read the query service makes, one method per query of the schema.

Resolvers stay thin: they validate arguments, call one method here and shape the answer with
services.query.documents. All reads go to the primary (the client's default), so a version the
change feed reported is visible to the read that follows it.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from services.query import point_in_time
from services.query.listing import Page
from shared.adapters.mongo import CATEGORY_STATS, HISTORY, PRODUCTS, PROJECTION_STATUS, Document


class ReadModels:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def product(self, product_id: str) -> Document | None:
        """The product's document, tombstone included (the caller decides what deleted means)."""
        return await self._db[PRODUCTS].find_one({"_id": product_id})

    async def page(self, page: Page) -> tuple[list[Document], bool]:
        """The page's rows and whether more follow (found by asking for one row more)."""
        if page.limit == 0:
            return [], await self._db[PRODUCTS].find_one(page.query, {"_id": 1}) is not None
        cursor = self._db[PRODUCTS].find(page.query).sort(page.order.spec()).limit(page.limit + 1)
        rows = await cursor.to_list()
        return rows[: page.limit], len(rows) > page.limit

    async def count(self, query: Document) -> int:
        return await self._db[PRODUCTS].count_documents(query)

    async def history(self, product_id: str) -> list[Document]:
        cursor = self._db[HISTORY].find({"productId": product_id}).sort("version", 1)
        return await cursor.to_list()

    async def product_at(self, product_id: str, at: datetime) -> Document | None:
        cursor = self._db[HISTORY].find({"productId": product_id, "occurredAt": {"$lte": at}})
        return point_in_time.fold(await cursor.sort("version", 1).to_list(), at)

    async def categories(self) -> list[Document]:
        cursor = self._db[CATEGORY_STATS].find().sort([("category", 1), ("currency", 1)])
        return await cursor.to_list()

    async def projection_status(self) -> Document | None:
        return await self._db[PROJECTION_STATUS].find_one({"_id": "projector"})
