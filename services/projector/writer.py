"""Applies a batch of events to the read models in one MongoDB transaction.

The version on each product document is the guard: an event at or below it was applied before
(a redelivery) and is skipped; an event above the next version means a hole in the log and is
refused rather than applied over it. Because products, history and statistics change in one
transaction, a crash leaves either all of a batch or none of it.

Every round trip of a batch's transaction is paid by the end-to-end lag: the projector writes
one small batch after another (a couple of events each at 200 mutations/s), so an event waits
for the batch in progress and then for its own. Hence the statistics are first moved by a
guarded update that needs no read of them (`category_stats.guarded`); only a batch where a guard
does not hold — a price at a bound left, a new key, a document older than `priceSum` — is
rolled back and done again the reading way: on the bench's catalog (5,000 products per
category) about one price update in 2,500 moves a product that held its category's min or max.
Only small batches go the guarded way: in a replay's batch of 2,000 events the read is one
round trip among many, while the chance that some price at a bound moves, undoing the whole
attempt, grows with every event (about every second batch of 2,000 updates there).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.projections import category_stats, history, products
from shared.adapters.mongo import CATEGORY_STATS, HISTORY, PRODUCTS, Document
from shared.envelope import Envelope

log = logging.getLogger(__name__)
BeforeCommit = Callable[[], Awaitable[None]]


# Up to this many events a batch first tries the guarded statistics update (see above).
GUARDED_BATCH = 32


class _BoundsUnknown(Exception):
    """A guarded statistics update did not match: this batch must read the statistics."""


@dataclass
class BatchResult:
    applied: int = 0
    skipped: int = 0
    gaps: list[tuple[Envelope, int]] = field(default_factory=list)  # (event, version found)
    last_event_time: datetime | None = None


class ReadModelWriter:
    def __init__(self, db: AsyncDatabase[Document], suffix: str = "") -> None:
        self._db = db
        self._products = db[PRODUCTS + suffix]
        self._history = db[HISTORY + suffix]
        self._stats = db[CATEGORY_STATS + suffix]

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
                except _BoundsUnknown:  # rolled back: nothing of the first attempt is left
                    pass
            return await self._transaction(session, envelopes, False, before_commit)

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
        result = BatchResult()
        ids = list({e.product_id for e in envelopes})
        found = self._products.find({"_id": {"$in": ids}}, session=session)
        before: dict[str, Document] = {doc["_id"]: doc async for doc in found}
        current: dict[str, Document] = dict(before)
        history_ops: list[Any] = []
        changes = category_stats.Changes()
        for envelope in envelopes:
            doc = current.get(envelope.product_id)
            verdict = products.admit(doc, envelope)
            if verdict is products.Verdict.SKIP:
                result.skipped += 1
                continue
            if verdict is products.Verdict.GAP:
                result.gaps.append((envelope, doc["version"] if doc else 0))
                continue
            new = products.apply(doc, envelope)
            changes.record(doc, new)
            current[envelope.product_id] = new
            history_ops.append(
                UpdateOne(
                    {"_id": envelope.event_id},
                    {"$setOnInsert": history.document(envelope)},
                    upsert=True,
                )
            )
            result.applied += 1
            result.last_event_time = envelope.time
        product_ops: list[Any] = []
        for product_id, doc in current.items():
            old = before.get(product_id)
            if old is None:
                product_ops.append(InsertOne(doc))
            elif old["version"] != doc["version"]:
                product_ops.append(ReplaceOne({"_id": product_id, "version": old["version"]}, doc))
        if changes and guarded:
            await self._move_stats(session, changes)
        if product_ops:
            await self._products.bulk_write(product_ops, ordered=False, session=session)
        if history_ops:
            await self._history.bulk_write(history_ops, ordered=False, session=session)
        if changes and not guarded:
            await self._update_stats(session, changes)
        return result

    async def _move_stats(
        self, session: AsyncClientSession, changes: category_stats.Changes
    ) -> None:
        """Statistics moved without reading them, or _BoundsUnknown if a guard did not hold.

        Written first in the transaction, so that a batch that must start again has written
        as little as possible.
        """
        ops = [category_stats.guarded(key, delta) for key, delta in changes.items()]
        written = await self._stats.bulk_write(ops, ordered=False, session=session)
        if written.matched_count != len(ops):
            raise _BoundsUnknown

    async def _update_stats(
        self, session: AsyncClientSession, changes: category_stats.Changes
    ) -> None:
        """Count and sum move by the batch's deltas; min and max follow from the stored ones
        (category_stats.known_bounds) or, when a boundary price may have left, from the index.

        Statistics written before the running sum existed are recomputed once from `products`.
        """
        ids = [category_stats.stats_id(key) for key in changes]
        stored = {
            (doc["category"], doc["currency"]): doc
            async for doc in self._stats.find({"_id": {"$in": ids}}, session=session)
        }
        legacy = {key for key, doc in stored.items() if "priceSum" not in doc}
        totals = {}
        if legacy:
            totals = {
                (row["_id"]["category"], row["_id"]["currency"]): row
                async for row in await self._products.aggregate(
                    category_stats.pipeline(legacy), session=session
                )
            }
        ops: list[Any] = []
        for key, delta in changes.items():
            doc = stored.get(key)
            if doc is not None and key not in legacy and doc["productCount"] + delta.count == 0:
                ops.append(DeleteOne({"_id": category_stats.stats_id(key)}))
                continue
            known = None if key in legacy else category_stats.known_bounds(delta, doc)
            if known is not None:
                bounds: tuple[Any, Any] = (Decimal128(known[0]), Decimal128(known[1]))
            else:
                read = await self._bounds_from_index(session, key)
                if read is None:
                    ops.append(DeleteOne({"_id": category_stats.stats_id(key)}))
                    continue
                bounds = read
            if key in legacy:
                row = totals[key]
                ops.append(
                    category_stats.replace(key, row["productCount"], row["priceSum"], bounds)
                )
            else:
                ops.append(category_stats.increment(key, delta.count, delta.total, bounds))
        await self._stats.bulk_write(ops, ordered=False, session=session)

    async def _bounds_from_index(
        self, session: AsyncClientSession, key: category_stats.Key
    ) -> tuple[Any, Any] | None:
        """The lowest and highest live price of a key, or None if no live product is left."""
        match = category_stats.live_in(key)
        cheapest = await self._products.find_one(
            match, {"price.amount": 1}, sort=[("price.amount", 1)], session=session
        )
        if cheapest is None:
            return None
        dearest = await self._products.find_one(
            match, {"price.amount": 1}, sort=[("price.amount", -1)], session=session
        )
        assert dearest is not None
        return cheapest["price"]["amount"], dearest["price"]["amount"]
