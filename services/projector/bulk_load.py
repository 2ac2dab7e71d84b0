"""A rebuild's first pass: fold the log in memory, then write every document once.

The live projector (writer.py) applies each batch in a MongoDB transaction and reads the
products it changes first: queries read along, and a crash must leave all of a batch or none.
A rebuild writes into fresh collections that nobody reads before the swap, and an interrupted
rebuild starts over (rebuild.py drops its leftovers), so its first pass needs neither. It folds
the events into product documents in memory, streams the history out as it goes (each event's
history document is final the moment the event is applied) and, at the end of the log, inserts
each product once, computes the category statistics from the folded products and only then
builds the secondary indexes: one sorted build per index instead of updating every index with
every write. MongoDB inserts a chunk while the next one is read and folded.

The version guard is the live writer's (`products.admit`), so redelivered events and holes in
the log give exactly the documents the writer would. Memory grows with the catalog: once more
than `max_products` products are held, the pass writes what it has and hands the rest of the
log to the transactional writer, which needs no more memory than a batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.writer import ReadModelWriter
from shared.adapters import mongo
from shared.adapters.mongo import Document
from shared.envelope import BadRecord, Envelope
from shared.read_model import category_stats, history, products
from shared.read_model.documents import HistoryDocument, ProductDocument

_IN_FLIGHT = 2  # chunks MongoDB may be inserting while the pass reads on


@dataclass
class Replayed:
    applied: int = 0
    unreadable: int = 0
    gaps: int = 0


async def load(
    events: AsyncIterator[Envelope | BadRecord],
    db: AsyncDatabase[Document],
    suffix: str,
    batch_size: int,
    max_products: int,
) -> Replayed:
    """Everything `events` yields, into the empty collections named with `suffix`, indexed."""
    totals = Replayed()
    folded = _Fold(db, suffix, batch_size)
    overflow: Envelope | None = None
    async for item in events:
        if isinstance(item, BadRecord):
            totals.unreadable += 1  # the live projector dead-lettered it already
        elif folded.holds(item.product_id) or folded.size < max_products:
            await folded.add(item)
        else:
            overflow = item
            break
    await folded.finish()
    totals.applied, totals.gaps = folded.applied, folded.gaps
    await mongo.ensure_indexes(db, suffix)
    if overflow is not None:
        await replay(_prepend(overflow, events), ReadModelWriter(db, suffix), batch_size, totals)
    return totals


async def replay(
    events: AsyncIterator[Envelope | BadRecord],
    writer: ReadModelWriter,
    batch_size: int,
    totals: Replayed,
) -> None:
    """Through the live projector's transactional writer, `batch_size` events at a time."""
    batch: list[Envelope] = []
    async for item in events:
        if isinstance(item, BadRecord):
            totals.unreadable += 1
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            await _apply(writer, batch, totals)
            batch = []
    if batch:
        await _apply(writer, batch, totals)


async def _apply(writer: ReadModelWriter, batch: list[Envelope], totals: Replayed) -> None:
    result = await writer.apply(batch)
    totals.applied += result.applied
    totals.gaps += len(result.gaps)


async def _prepend(
    first: Envelope, rest: AsyncIterator[Envelope | BadRecord]
) -> AsyncIterator[Envelope | BadRecord]:
    yield first
    async for item in rest:
        yield item


class _Fold:
    """Product documents folded in memory; history and, at the end, products inserted in chunks."""

    def __init__(self, db: AsyncDatabase[Document], suffix: str, chunk: int) -> None:
        self._products = db[mongo.PRODUCTS + suffix]
        self._history = db[mongo.HISTORY + suffix]
        self._stats = db[mongo.CATEGORY_STATS + suffix]
        self._chunk = chunk
        self._documents: dict[str, ProductDocument] = {}
        self._pending_history: list[HistoryDocument] = []
        self._inserts: set[asyncio.Task[Any]] = set()
        self.applied = 0
        self.gaps = 0

    @property
    def size(self) -> int:
        return len(self._documents)

    def holds(self, product_id: str) -> bool:
        return product_id in self._documents

    async def add(self, envelope: Envelope) -> None:
        document = self._documents.get(envelope.product_id)
        verdict = products.admit(document, envelope)
        if verdict is products.Verdict.GAP:
            self.gaps += 1
        if verdict is not products.Verdict.APPLY:
            return
        self._documents[envelope.product_id] = products.apply(document, envelope)
        self._pending_history.append(history.document(envelope))
        self.applied += 1
        if len(self._pending_history) >= self._chunk:
            await self._insert(self._history, self._pending_history)
            self._pending_history = []

    async def finish(self) -> None:
        """Write what is left, the products and their statistics; wait for every insert."""
        if self._pending_history:
            await self._insert(self._history, self._pending_history)
        documents = list(self._documents.values())
        for start in range(0, len(documents), self._chunk):
            await self._insert(self._products, documents[start : start + self._chunk])
        statistics = list(category_stats.statistics(documents))
        if statistics:
            await self._insert(self._stats, statistics)
        await self._settle(0)

    async def _insert(
        self, collection: AsyncCollection[Document], documents: Sequence[Any]
    ) -> None:
        await self._settle(_IN_FLIGHT - 1)
        self._inserts.add(asyncio.create_task(collection.insert_many(documents, ordered=False)))

    async def _settle(self, at_most: int) -> None:
        """Wait until at most `at_most` inserts are in flight; an insert that failed raises."""
        while len(self._inserts) > at_most:
            done, self._inserts = await asyncio.wait(
                self._inserts, return_when=asyncio.FIRST_COMPLETED
            )
            failed = [task for task in done if task.exception() is not None]
            if failed:
                for task in self._inserts:
                    task.cancel()
                raise failed[0].exception()  # type: ignore[misc]
