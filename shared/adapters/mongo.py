"""MongoDB: the read models' collections and the indexes the queries need.

Both the projector (which writes) and the query service (which reads) go through these names,
so a rebuild that swaps collections is seen by both at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import InfraSettings

PRODUCTS = "products"
HISTORY = "product_history"
CATEGORY_STATS = "category_stats"
PROJECTION_STATUS = "projection_status"
PROJECTION_CONTROL = "projection_control"

Document = dict[str, Any]

# Live products only, with the id as the last key so sorts are total and cursors stable.
_PRODUCT_INDEXES = [
    IndexModel([("deleted", ASCENDING), ("name", ASCENDING), ("_id", ASCENDING)]),
    IndexModel([("deleted", ASCENDING), ("price.amount", ASCENDING), ("_id", ASCENDING)]),
    IndexModel([("deleted", ASCENDING), ("createdAt", ASCENDING), ("_id", ASCENDING)]),
    IndexModel([("deleted", ASCENDING), ("updatedAt", DESCENDING), ("_id", DESCENDING)]),
    IndexModel(
        [
            ("deleted", ASCENDING),
            ("category", ASCENDING),
            ("price.currency", ASCENDING),
            ("price.amount", ASCENDING),
        ]
    ),
    IndexModel([("deleted", ASCENDING), ("tags", ASCENDING), ("_id", ASCENDING)]),
]
_HISTORY_INDEXES = [IndexModel([("productId", ASCENDING), ("version", ASCENDING)], unique=True)]


def connect(settings: InfraSettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000)


def database(
    client: AsyncMongoClient[Document], settings: InfraSettings
) -> AsyncDatabase[Document]:
    return client[settings.mongodb_database]


async def ensure_indexes(db: AsyncDatabase[Document], suffix: str = "") -> None:
    await db[PRODUCTS + suffix].create_indexes(_PRODUCT_INDEXES)
    await db[HISTORY + suffix].create_indexes(_HISTORY_INDEXES)


async def reachable(client: AsyncMongoClient[Document], within_s: float = 2.0) -> bool:
    """Whether MongoDB answers a ping within `within_s`.

    Bounded below the client's 5 s server selection, so that /ready answers 503 promptly
    while MongoDB is down instead of outlasting the caller's probe timeout.
    """
    try:
        async with asyncio.timeout(within_s):
            await client.admin.command("ping")
    except Exception:
        return False
    return True
