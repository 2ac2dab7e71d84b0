"""Applies a batch of events to the read models in one MongoDB transaction.

The version on each product document is the guard: an event at or below it was applied before
(a redelivery) and is skipped; an event above the next version means a hole in the log and is
refused rather than applied over it (batch.py folds the batch; shared/read_model/products.py
holds the rule). Because products, history and statistics change in one transaction, a crash
leaves either all of a batch or none of it.

Every round trip of a batch's transaction adds to the end-to-end lag, so the statistics are
first moved by a guarded update that needs no read of them (`CategoryStats.move`); only a batch
where a guard does not hold — a price at a bound left, a new key — is rolled back and done
again the reading way (`CategoryStats.update`). Large batches (a replay's) go the reading way
at once: the read is one round trip among many there, while the chance that some bound moves
and undoes the whole attempt grows with every event (bench/RESULTS.md has the measurements).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.batch import BatchResult, fold
from services.projector.projections.category_stats import BoundsUnknown, CategoryStats
from shared.adapters.mongo import CATEGORY_STATS, HISTORY, PRODUCTS, Document
from shared.envelope import Envelope
from shared.read_model.documents import ProductDocument

log = logging.getLogger(__name__)
BeforeCommit = Callable[[], Awaitable[None]]

# Up to this many events a batch first tries the guarded statistics update (see above).
GUARDED_BATCH = 32


class ReadModelWriter:
    def __init__(self, db: AsyncDatabase[Document], suffix: str = "") -> None:
        self._db = db
        self._products = db[PRODUCTS + suffix]
        self._history = db[HISTORY + suffix]
        self._stats = CategoryStats(db[CATEGORY_STATS + suffix], self._products)

    async def apply(
        self, envelopes: Sequence[Envelope], before_commit: BeforeCommit | None = None
    ) -> BatchResult:
        """Apply a batch in one transaction; `before_commit` is awaited after the batch's
        writes, just before the commit (the projector waits there for the last batch's
        offsets), and what it raises rolls the batch back."""
        async with self._db.client.start_session() as session:
            if len(envelopes) <= GUARDED_BATCH:
                try:
                    return await self._transaction(session, envelopes, True, before_commit)
                except BoundsUnknown:  # rolled back: nothing of the first attempt is left
                    pass
            return await self._transaction(session, envelopes, False, before_commit)

    async def check(self, envelopes: Sequence[Envelope]) -> BatchResult:
        """What `apply` would do to the read models as they are now, writing nothing."""
        ids = list({e.product_id for e in envelopes})
        found = self._products.find({"_id": {"$in": ids}})
        stored = {doc["_id"]: cast(ProductDocument, doc) async for doc in found}
        return fold(stored, envelopes).result

    async def _transaction(
        self,
        session: AsyncClientSession,
        envelopes: Sequence[Envelope],
        guarded: bool,
        before_commit: BeforeCommit | None,
    ) -> BatchResult:
        async def writes(s: AsyncClientSession) -> BatchResult:
            result = await self._apply(s, envelopes, guarded)
            if before_commit is not None:
                await before_commit()
            return result

        written: BatchResult = await session.with_transaction(writes)
        return written

    async def _apply(
        self, session: AsyncClientSession, envelopes: Sequence[Envelope], guarded: bool
    ) -> BatchResult:
        ids = list({e.product_id for e in envelopes})
        found = self._products.find({"_id": {"$in": ids}}, session=session)
        stored = {doc["_id"]: cast(ProductDocument, doc) async for doc in found}
        batch = fold(stored, envelopes)
        product_ops: list[Any] = [
            InsertOne(new)
            if old is None
            else ReplaceOne({"_id": new["_id"], "version": old["version"]}, new)
            for old, new in batch.changed()
        ]
        history_ops = [
            UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
            for doc in batch.history
        ]
        if batch.changes and guarded:  # first, so that a batch starting over wrote little
            await self._stats.move(session, batch.changes)
        if product_ops:
            await self._products.bulk_write(product_ops, ordered=False, session=session)
        if history_ops:
            await self._history.bulk_write(history_ops, ordered=False, session=session)
        if batch.changes and not guarded:
            await self._stats.update(session, batch.changes)
        return batch.result
