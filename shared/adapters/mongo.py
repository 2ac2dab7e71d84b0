"""MongoDB: the read models' collections and the indexes the queries need.

Both the projector (which writes) and the query service (which reads) go through these names,
so a rebuild that swaps collections is seen by both at once.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from pymongo.read_concern import ReadConcern

from shared.settings import InfraSettings

PRODUCTS = "products"
HISTORY = "product_history"
CATEGORY_STATS = "category_stats"
PROJECTION_STATUS = "projection_status"
PROJECTION_CONTROL = "projection_control"

Document = dict[str, Any]

# Live products only, with the id as the last key so sorts are total and cursors stable. An
# equality filter goes before the sort field (MongoDB's equality-sort-range rule), so the shapes
# clients use most read 21 index keys for a page of 20 instead of sorting every match:
# a category by name (the default sort) or by price within a price range, a tag by newest first,
# and everything by a sort field alone. tests/integration/test_listing_plans.py holds every
# filter and sort combination to a plan without a collection scan, and these to one without a sort.
IndexKeys = list[tuple[str, int]]
BY_NAME: IndexKeys = [("deleted", ASCENDING), ("name", ASCENDING), ("_id", ASCENDING)]
BY_CATEGORY_AND_NAME: IndexKeys = [
    ("deleted", ASCENDING),
    ("category", ASCENDING),
    ("name", ASCENDING),
    ("_id", ASCENDING),
]
_PRODUCT_INDEXES = [
    IndexModel(BY_NAME),
    IndexModel([("deleted", ASCENDING), ("price.amount", ASCENDING), ("_id", ASCENDING)]),
    IndexModel([("deleted", ASCENDING), ("createdAt", ASCENDING), ("_id", ASCENDING)]),
    IndexModel([("deleted", ASCENDING), ("updatedAt", DESCENDING), ("_id", DESCENDING)]),
    IndexModel(BY_CATEGORY_AND_NAME),
    IndexModel(
        [
            ("deleted", ASCENDING),
            ("category", ASCENDING),
            ("price.amount", ASCENDING),
            ("_id", ASCENDING),
        ]
    ),
    IndexModel(
        [("deleted", ASCENDING), ("tags", ASCENDING), ("createdAt", ASCENDING), ("_id", ASCENDING)]
    ),
]
_HISTORY_INDEXES = [IndexModel([("productId", ASCENDING), ("version", ASCENDING)], unique=True)]


def connect(settings: InfraSettings, app_name: str | None = None) -> AsyncMongoClient[Document]:
    """A client; `app_name` names it in MongoDB's $currentOp and logs.

    Its concerns are what makes a replica set's failover lose nothing a client was shown
    (README, "Running the cluster"); passed here, they win over any in MONGODB_URL:

    - writes `w: "majority"` with journaling: a batch the projector committed (and then
      committed the Kafka offsets for) is on the disks of a majority, so no election can roll it
      back. Transactions inherit it for their commit. There is no wtimeout: a primary that loses
      its majority steps down within the election timeout, which fails the waiting writes.
    - reads `majority`: a query, a `minVersion` wait and the product cache see only
      majority-committed documents, never one a failover could take back. Transactions inherit it
      too (their reads are guaranteed majority-committed because they commit with w: majority).
      The change stream behind subscriptions is majority-committed by nature, and its
      `updateLookup` reads the majority-committed document.
    """
    named: dict[str, Any] = {"appname": app_name} if app_name else {}
    return AsyncMongoClient(
        settings.mongodb_url,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        w="majority",
        journal=True,
        readConcernLevel="majority",
        **named,
    )


def database(
    client: AsyncMongoClient[Document], settings: InfraSettings
) -> AsyncDatabase[Document]:
    return client[settings.mongodb_database]


# Indexes an earlier version created that no query uses any more: dropped where found, so that
# a database upgraded in place stops paying for them on every write.
SUPERSEDED_PRODUCT_INDEXES = (
    "deleted_1_category_1_price.currency_1_price.amount_1",
    "deleted_1_tags_1__id_1",
)
_INDEX_NOT_FOUND = 27


async def ensure_indexes(db: AsyncDatabase[Document], suffix: str = "") -> None:
    """Create the read models' indexes (nothing happens for those that exist), and drop the
    superseded ones.

    Both collections' builds run at once: on filled collections (a rebuild builds its indexes
    after the inserts) each build is one scan and sort on one MongoDB thread, so the two
    overlap on a machine with more than one core.
    """
    products = db[PRODUCTS + suffix]
    await asyncio.gather(
        products.create_indexes(_PRODUCT_INDEXES),
        db[HISTORY + suffix].create_indexes(_HISTORY_INDEXES),
    )
    # Only those that exist: dropping takes the collection's exclusive lock even for an index
    # that is not there, and waits behind any open transaction on it (a killed projector's stays
    # open until its successor aborts it or MongoDB expires it).
    present = set(await products.index_information())
    for name in SUPERSEDED_PRODUCT_INDEXES:
        if name not in present:
            continue
        try:
            await products.drop_index(name)
        except OperationFailure as exc:
            if exc.code != _INDEX_NOT_FOUND:  # dropped meanwhile by another service
                raise


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
    return await _abort_transactions(client, app_name)


async def abort_peer_transactions(
    client: AsyncMongoClient[Document], prefix: str, own_app_name: str
) -> int:
    """Abort the open transactions of the other clients whose app name starts with `prefix`.

    For a projector that was just given partitions: a peer that died mid-batch left its
    transaction open, and since every batch also updates the shared category statistics, the
    locks it holds stop the whole group until MongoDB expires it a minute later. Its partitions
    are reassigned only once its session has timed out, so at that moment an open transaction of
    another member is either the dead one's or a live peer's batch, which the abort merely makes
    it write again (the version guard keeps that harmless).
    """
    others = {"$regex": f"^{re.escape(prefix)}", "$ne": own_app_name}
    return await _abort_transactions(client, others)


async def _abort_transactions(client: AsyncMongoClient[Document], app_name: Any) -> int:
    # $currentOp runs with read concern "local" only; the client's default is "majority".
    admin = client.get_database("admin", read_concern=ReadConcern("local"))
    found = await admin.aggregate(
        [
            {"$currentOp": {"allUsers": True, "idleSessions": True}},
            {"$match": {"appName": app_name, "transaction": {"$exists": True}}},
        ]
    )
    sessions = [op["lsid"] async for op in found]
    if sessions:
        await client.admin.command("killSessions", sessions)
    return len(sessions)
