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

The fold is CPU-bound (reading, validating and folding each event costs more than MongoDB's
insert of it), and a product's events never span partitions, so `load_partitions` splits the
partitions between worker processes: each folds its own into the same collections, and the
parent merges what they counted, writes the category statistics of all their prices and builds
the indexes. Each worker holds at most its share of `max_products`; one that has held its share
stops where it is, and the parent hands the rest of the log, from where each worker stopped, to
the transactional writer as `load` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.writer import ReadModelWriter
from shared.adapters import mongo
from shared.adapters.kafka_log import EventReader
from shared.adapters.mongo import Document
from shared.envelope import BadRecord, Envelope
from shared.read_model import category_stats, history, products
from shared.read_model.documents import HistoryDocument, ProductDocument
from shared.settings import ProjectorSettings

_IN_FLIGHT = 2  # chunks MongoDB may be inserting while the pass reads on
P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)


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
    overflow = await folded.fold(events, max_products, totals)
    await folded.flush()
    await folded.insert_statistics(folded.prices())
    await folded.settle()
    totals.applied, totals.gaps = folded.applied, folded.gaps
    await mongo.ensure_indexes(db, suffix)
    if overflow is not None:
        await replay(_prepend(overflow, events), ReadModelWriter(db, suffix), batch_size, totals)
    return totals


async def load_partitions(
    settings: ProjectorSettings,
    reader: EventReader,
    db: AsyncDatabase[Document],
    suffix: str,
    batch_size: int,
    max_products: int,
    workers: int,
) -> Replayed:
    """`load` of what `reader` has not read yet, its partitions split between `workers`
    processes; `reader` then goes on after what they loaded.

    One worker (or one partition) folds in this process, through `reader` itself.
    """
    groups = split(reader.partitions, workers)
    if len(groups) <= 1:
        return await load(events(reader), db, suffix, batch_size, max_products)
    start = await reader.positions()
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    # spawn, not fork: a forked child would inherit this process's event loop and connections
    pool = ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("spawn"))
    try:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool,
                    run_to_end,
                    fold_partitions,
                    settings,
                    {p: start[p] for p in group},
                    suffix,
                    batch_size,
                    share,
                )
                for group, share in zip(groups, shares(max_products, len(groups)), strict=True)
            )
        )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    totals, prices, positions, overflowed = merge(parts)
    folded_s = time.monotonic() - started
    reader.seek(positions)
    folded = _Fold(db, suffix, batch_size)
    await folded.insert_statistics(prices)
    await folded.settle()
    await mongo.ensure_indexes(db, suffix)
    log.info(
        "%d workers folded and wrote %d events in %.1fs; statistics and indexes in %.1fs",
        len(groups),
        totals.applied,
        folded_s,
        time.monotonic() - started - folded_s,
    )
    if overflowed:
        await replay(events(reader), ReadModelWriter(db, suffix), batch_size, totals)
    return totals


@dataclass
class Part:
    """What one worker folded and wrote: its counts, its products' prices per statistics key
    (the parent writes the statistics of all of them) and where it stopped in each partition."""

    replayed: Replayed
    prices: dict[category_stats.Key, list[Decimal]]
    positions: dict[int, int]
    overflowed: bool = False  # it held its share of max_products and stopped at `positions`


def split(partitions: Sequence[int], workers: int) -> list[list[int]]:
    """The partitions of each worker, round-robin; no worker without a partition."""
    count = max(1, min(workers, len(partitions)))
    return [list(partitions[i::count]) for i in range(count)]


def shares(max_products: int, workers: int) -> list[int]:
    """Each worker's share of `max_products`: together never more than it."""
    return [max_products // workers + (i < max_products % workers) for i in range(workers)]


def merge(
    parts: Sequence[Part],
) -> tuple[Replayed, dict[category_stats.Key, list[Decimal]], dict[int, int], bool]:
    """The workers' parts as one: counts summed, prices and positions joined."""
    totals = Replayed()
    positions: dict[int, int] = {}
    for part in parts:
        totals.applied += part.replayed.applied
        totals.unreadable += part.replayed.unreadable
        totals.gaps += part.replayed.gaps
        positions.update(part.positions)
    prices = category_stats.merge_prices(part.prices for part in parts)
    return totals, prices, positions, any(part.overflowed for part in parts)


def run_to_end(
    function: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`function(*args, **kwargs)` in an event loop of its own: a worker process's entry."""
    return asyncio.run(function(*args, **kwargs))


async def fold_partitions(
    settings: ProjectorSettings,
    start: dict[int, int],
    suffix: str,
    batch_size: int,
    max_products: int,
) -> Part:
    """A worker process's part (run_to_end): `load`'s fold of the partitions in `start`, from
    those offsets."""
    client = mongo.connect(settings)
    reader = EventReader(settings, client_id="catalog-rebuild-worker", only=start)
    handled = dict(start)  # per partition, the offset after the last record dealt with

    async def dealt_with() -> AsyncIterator[Envelope | BadRecord]:
        """The reader's records; each counts as dealt with when the fold asks for the next."""
        async for item, position in reader.catch_up():
            yield item
            handled[position.partition] = position.offset + 1

    try:
        await reader.start()
        reader.seek(start)
        folded = _Fold(mongo.database(client, settings), suffix, batch_size)
        replayed = Replayed()
        # the record that did not fit, and all after it, go to the writer
        overflowed = await folded.fold(dealt_with(), max_products, replayed) is not None
        await folded.flush()
        await folded.settle()
        replayed.applied, replayed.gaps = folded.applied, folded.gaps
        # at the end of the log, past the transaction markers after the last record too
        positions = handled if overflowed else await reader.positions()
        return Part(replayed, folded.prices(), positions, overflowed)
    finally:
        await reader.stop()
        await client.close()


# gen0 threshold and the gen1 / gen2 ratios while folding (CPython's defaults: 700, 10, 10)
_FOLD_GC_THRESHOLD = (100_000, 50, 100)


@contextlib.contextmanager
def rare_collections() -> Iterator[None]:
    """Fewer cyclic garbage collections while folding, and none over what was there before.

    The fold keeps every product document it holds alive until the end, so each collection
    walks a heap that only grows, while nearly all the garbage of reading a record (its
    envelope, event and headers) has no cycles and goes by reference counting: with CPython's
    thresholds the collector took a large share of the fold's CPU. Cycles (a caught exception
    and its traceback, say) are still collected, only less often; the objects from before the
    fold (modules, validators) are frozen out of the walks. Both are undone afterwards.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*_FOLD_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


async def events(reader: EventReader) -> AsyncIterator[Envelope | BadRecord]:
    """What the reader has not returned yet, up to the end of the log as it is now."""
    async for item, _position in reader.catch_up():
        yield item


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

    async def fold(
        self, items: AsyncIterator[Envelope | BadRecord], max_products: int, totals: Replayed
    ) -> Envelope | None:
        """Fold `items` as long as the products held stay within `max_products`; the event
        that would exceed it is returned and what follows it left in `items` (None: all
        folded). Unreadable records are counted in `totals`: the live projector dead-lettered
        them already."""
        with rare_collections():
            async for item in items:
                if isinstance(item, BadRecord):
                    totals.unreadable += 1
                elif self.holds(item.product_id) or self.size < max_products:
                    await self.add(item)
                else:
                    return item
        return None

    async def flush(self) -> None:
        """Write the history that is left and the products (call `settle` to wait for it)."""
        if self._pending_history:
            await self._insert(self._history, self._pending_history)
            self._pending_history = []
        documents = list(self._documents.values())
        for start in range(0, len(documents), self._chunk):
            await self._insert(self._products, documents[start : start + self._chunk])

    def prices(self) -> dict[category_stats.Key, list[Decimal]]:
        """The folded products' prices per statistics key."""
        return category_stats.prices_by_key(self._documents.values())

    async def insert_statistics(self, prices: dict[category_stats.Key, list[Decimal]]) -> None:
        statistics = list(category_stats.statistics_of(prices))
        if statistics:
            await self._insert(self._stats, statistics)

    async def settle(self) -> None:
        """Wait for every insert; one that failed raises."""
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
