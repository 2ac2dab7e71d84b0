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


def connect(settings: InfraSettings, app_name: str | None = None) -> AsyncMongoClient[Document]:
    """A client; `app_name` names it in MongoDB's $currentOp and logs."""
    named: dict[str, Any] = {"appname": app_name} if app_name else {}
    return AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000, **named
    )


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


async def abort_orphaned_transactions(client: AsyncMongoClient[Document], app_name: str) -> int:
    """Abort the open transactions of clients named `app_name`; returns how many there were.

    A process killed in the middle of a transaction leaves it open on the server, holding the
    locks of its writes until MongoDB expires it (transactionLifetimeLimitSeconds, 60 s by
    default). Until then every transaction touching the same documents conflicts and is retried,
    so a projector restarted after a crash stood still for up to a minute. Killing the dead
    process's sessions aborts them at once. Only for an `app_name` that one process at a time
    uses, so that the transactions found can only be a dead predecessor's.
    """
    found = await client.admin.aggregate(
        [
            {"$currentOp": {"allUsers": True, "idleSessions": True}},
            {"$match": {"appName": app_name, "transaction": {"$exists": True}}},
        ]
    )
    sessions = [op["lsid"] async for op in found]
    if sessions:
        await client.admin.command("killSessions", sessions)
    return len(sessions)
