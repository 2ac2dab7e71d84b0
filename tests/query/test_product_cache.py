"""The product cache never pins a stale product: through the query service as a real process
over HTTP, and (where a race needs steering) the cache itself on a real change feed.

The service runs against this module's database, which the tests write with the projector's
own ReadModelWriter; MongoDB is real throughout, nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from bson.decimal128 import Decimal128
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.writer import ReadModelWriter
from services.query import documents
from services.query.change_feed import ChangeFeed, MissedChanges, ProductChanged
from services.query.documents import ProductAnswer, answer
from services.query.product_cache import ProductCache
from shared.adapters.mongo import PRODUCTS
from shared.settings import QuerySettings
from tests.query.client import Document
from tests.query.events import created, deleted, new_id, updated
from tests.support.services import Service

# How long a change may take from MongoDB through the change stream into the cache; generous
# for a busy machine (it is milliseconds when idle).
FEED_DELAY_S = 3.0
PRODUCT = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { id name version } }"


@pytest.fixture(scope="module")
def query(query_settings: QuerySettings) -> Iterator[Service]:
    service = Service(
        "query",
        {
            "MONGODB_URL": query_settings.mongodb_url,
            "MONGODB_DATABASE": query_settings.mongodb_database,
            "MIN_VERSION_TIMEOUT_S": "2",
        },
    ).start()
    yield service
    service.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def product(
    http: httpx.AsyncClient, query: Service, pid: str, v: int | None = None
) -> Document | None:
    response = await http.post(
        query.graphql_url, json={"query": PRODUCT, "variables": {"id": pid, "v": v}}
    )
    body = response.json()
    assert "errors" not in body, body
    found: Document | None = body["data"]["product"]
    return found


async def counter(http: httpx.AsyncClient, query: Service, name: str) -> float:
    text = (await http.get(f"{query.url}/metrics")).text
    found = re.search(rf"^catalog_query_product_cache_{name} (\S+)$", text, re.MULTILINE)
    assert found, f"no {name} in /metrics"
    return float(found.group(1))


async def eventually(check: Callable[[], Awaitable[bool]], within: float = FEED_DELAY_S) -> float:
    """Seconds until `check` held; fails the test if it did not within `within`."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, "not within the change feed's delay"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def cached(http: httpx.AsyncClient, query: Service, pid: str, version: int) -> None:
    """Reads the product until it is answered at `version` from the cache (a hit)."""

    async def hit() -> bool:
        before = await counter(http, query, "hits_total")
        found = await product(http, query, pid)
        return (
            found is not None
            and found["version"] == version
            and await counter(http, query, "hits_total") > before
        )

    await eventually(hit)


async def test_the_catalog_is_read_in_at_start_and_served_from_memory(
    db: AsyncDatabase[Document],
    writer: ReadModelWriter,
    query_settings: QuerySettings,
    http: httpx.AsyncClient,
) -> None:
    pids = [new_id() for _ in range(20)]
    await writer.apply([created(pid, f"P{i}") for i, pid in enumerate(pids)])
    service = Service(
        "query",
        {
            "MONGODB_URL": query_settings.mongodb_url,
            "MONGODB_DATABASE": query_settings.mongodb_database,
        },
    ).start()
    try:
        total = await db[PRODUCTS].count_documents({})
        await eventually(lambda: _at_least(http, service, "entries", total))
        misses = await counter(http, service, "misses_total")
        for i, pid in enumerate(pids):
            assert await product(http, service, pid) == {"id": pid, "name": f"P{i}", "version": 1}
        assert await counter(http, service, "misses_total") == misses
        assert await counter(http, service, "hits_total") >= len(pids)
    finally:
        service.stop()


async def _at_least(http: httpx.AsyncClient, query: Service, name: str, value: float) -> bool:
    return await counter(http, query, name) >= value


async def test_an_update_of_a_cached_product_is_served_within_the_feeds_delay(
    query: Service, writer: ReadModelWriter, http: httpx.AsyncClient
) -> None:
    pid = new_id()
    await writer.apply([created(pid, "Mug")])
    await cached(http, query, pid, 1)
    await writer.apply([updated(pid, 2, name="Jug")])
    seen: list[int] = []

    async def updated_answer() -> bool:
        found = await product(http, query, pid)
        assert found is not None
        seen.append(found["version"])
        return found == {"id": pid, "name": "Jug", "version": 2}

    await eventually(updated_answer)
    # Once the new version was served, never the old one again: the cache holds it now.
    for _ in range(20):
        assert await product(http, query, pid) == {"id": pid, "name": "Jug", "version": 2}
    await cached(http, query, pid, 2)
    assert seen == sorted(seen)


async def test_a_rebuilt_read_model_swapped_in_replaces_what_was_cached(
    query: Service, db: AsyncDatabase[Document], writer: ReadModelWriter, http: httpx.AsyncClient
) -> None:
    pid = new_id()
    await writer.apply([created(pid, "Mug")])
    await cached(http, query, pid, 1)
    # The rebuild wrote version 2 into its own collection, unseen by the change feed's filter
    # until the rename reports the swap.
    suffix = f"_rebuild_{pid[:8]}"
    existing = [doc async for doc in db[PRODUCTS].find()]
    await db[PRODUCTS + suffix].insert_many(existing)
    await ReadModelWriter(db, suffix).apply([updated(pid, 2, name="Rebuilt")])
    await db.client.admin.command(
        "renameCollection",
        f"{db.name}.{PRODUCTS}{suffix}",
        to=f"{db.name}.{PRODUCTS}",
        dropTarget=True,
    )

    async def rebuilt() -> bool:
        return await product(http, query, pid) == {"id": pid, "name": "Rebuilt", "version": 2}

    await eventually(rebuilt)
    await cached(http, query, pid, 2)


async def test_a_tombstone_is_cached_and_answers_null(
    query: Service, writer: ReadModelWriter, http: httpx.AsyncClient
) -> None:
    pid = new_id()
    await writer.apply([created(pid), deleted(pid, 2)])

    async def tombstone_hit() -> bool:
        before = await counter(http, query, "hits_total")
        return (
            await product(http, query, pid) is None
            and await counter(http, query, "hits_total") > before
        )

    await eventually(tombstone_hit)
    # The cached tombstone settles any minVersion at once, without reading MongoDB.
    misses = await counter(http, query, "misses_total")
    started = time.monotonic()
    assert await product(http, query, pid, v=9) is None
    assert time.monotonic() - started < 1.0
    assert await counter(http, query, "misses_total") == misses


async def test_a_product_deleted_from_the_collection_is_not_served_from_memory(
    query: Service, db: AsyncDatabase[Document], writer: ReadModelWriter, http: httpx.AsyncClient
) -> None:
    """The projector never does this, but an operator might; the cache must not outlive it."""
    pid = new_id()
    await writer.apply([created(pid)])
    await cached(http, query, pid, 1)
    await db[PRODUCTS].delete_one({"_id": pid})

    async def gone() -> bool:
        return await product(http, query, pid) is None

    await eventually(gone)


async def test_min_version_answers_from_memory_or_waits_for_the_write(
    query: Service, writer: ReadModelWriter, http: httpx.AsyncClient
) -> None:
    pid = new_id()
    await writer.apply([created(pid, "Mug")])
    await cached(http, query, pid, 1)
    misses = await counter(http, query, "misses_total")
    assert await product(http, query, pid, v=1) == {"id": pid, "name": "Mug", "version": 1}
    assert await counter(http, query, "misses_total") == misses

    async def write_later() -> None:
        await asyncio.sleep(0.3)
        await writer.apply([updated(pid, 2, name="Jug")])

    write = asyncio.create_task(write_later())
    started = time.monotonic()
    assert await product(http, query, pid, v=2) == {"id": pid, "name": "Jug", "version": 2}
    assert 0.25 < time.monotonic() - started < 2.0
    await write
    await cached(http, query, pid, 2)


# The cache itself on a real change feed, where a read has to be held in flight on purpose.


@pytest.fixture(scope="module")
async def feed(db: AsyncDatabase[Document]) -> AsyncIterator[ChangeFeed]:
    feed = ChangeFeed(db)
    task = asyncio.create_task(feed.run())
    await asyncio.wait_for(feed.opened.wait(), 10)
    yield feed
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class HeldRead:
    """A real find_one whose answer is held back until released, and counted."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self.calls = 0
        self.read_done = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    def hold(self) -> None:
        self.read_done.clear()
        self.release.clear()

    async def __call__(self, product_id: str) -> Document | None:
        self.calls += 1
        doc = await self._db[PRODUCTS].find_one({"_id": product_id})
        self.read_done.set()
        await self.release.wait()
        return doc


@contextlib.asynccontextmanager
async def dispatched(feed: ChangeFeed, versions: dict[str, int]) -> AsyncIterator[None]:
    """Waits, on leaving, until the feed has dispatched each product at (at least) its version
    to every observer, so that a test's next step does not race the writes of its setup."""
    waiting = dict(versions)
    with feed.listen() as listener:
        yield
        while waiting:
            notice = await asyncio.wait_for(listener.get(), FEED_DELAY_S)
            if (
                isinstance(notice, ProductChanged)
                and notice.document is not None
                and notice.document["version"] >= waiting.get(notice.product_id, 1 << 62)
            ):
                del waiting[notice.product_id]


async def test_a_change_dispatched_while_a_miss_is_read_keeps_the_read_out_of_the_cache(
    db: AsyncDatabase[Document], writer: ReadModelWriter, feed: ChangeFeed
) -> None:
    read = HeldRead(db)
    cache = ProductCache(feed, read, size=100)
    pid = new_id()
    async with dispatched(feed, {pid: 1}):
        await writer.apply([created(pid, "Mug")])

    read.hold()
    fill = asyncio.create_task(cache.get(pid))
    await read.read_done.wait()  # MongoDB has answered version 1 ...
    async with dispatched(feed, {pid: 2}):  # ... and version 2 is reported before that is stored
        await writer.apply([updated(pid, 2, name="Jug")])
    read.release.set()
    answer = await fill
    assert answer is not None and answer.version == 1  # what MongoDB said, once
    assert len(cache) == 0  # but not kept: nothing would ever have replaced it
    assert version(await cache.get(pid)) == 2
    calls = read.calls
    assert version(await cache.get(pid)) == 2 and read.calls == calls  # a hit now


async def test_a_miss_read_without_a_racing_change_is_kept_and_followed(
    db: AsyncDatabase[Document], writer: ReadModelWriter, feed: ChangeFeed
) -> None:
    read = HeldRead(db)
    cache = ProductCache(feed, read, size=2)
    pids = [new_id() for _ in range(3)]
    async with dispatched(feed, dict.fromkeys(pids, 1)):
        await writer.apply([created(pid) for pid in pids])
    assert version(await cache.get(pids[0])) == 1
    assert version(await cache.get(pids[0])) == 1 and read.calls == 1
    async with dispatched(feed, {pids[0]: 2}):
        await writer.apply([updated(pids[0], 2, name="Jug")])
    assert version(await cache.get(pids[0])) == 2 and read.calls == 1  # replaced by the feed
    await cache.get(pids[1])
    await cache.get(pids[2])  # bounded: the least recently used goes
    assert len(cache) == 2
    await cache.get(pids[0])
    assert read.calls == 4


async def test_a_swap_while_a_miss_is_read_keeps_the_read_out_and_empties_the_cache(
    db: AsyncDatabase[Document], writer: ReadModelWriter, feed: ChangeFeed
) -> None:
    read = HeldRead(db)
    cache = ProductCache(feed, read, size=100)
    kept, racing = new_id(), new_id()
    async with dispatched(feed, {kept: 1, racing: 1}):
        await writer.apply([created(kept), created(racing)])
    await cache.get(kept)
    assert len(cache) == 1

    read.hold()
    fill = asyncio.create_task(cache.get(racing))
    await read.read_done.wait()
    suffix = f"_rebuild_{racing[:8]}"
    await db[PRODUCTS + suffix].insert_many([doc async for doc in db[PRODUCTS].find()])
    with feed.listen(racing) as listener:
        await db.client.admin.command(
            "renameCollection",
            f"{db.name}.{PRODUCTS}{suffix}",
            to=f"{db.name}.{PRODUCTS}",
            dropTarget=True,
        )
        assert await asyncio.wait_for(listener.get(), FEED_DELAY_S) == MissedChanges("swap")
    read.release.set()
    await fill
    assert len(cache) == 0


async def test_while_the_feed_is_closed_memory_is_bypassed_and_dropped(
    db: AsyncDatabase[Document], writer: ReadModelWriter
) -> None:
    """A feed that is not following the stream cannot keep entries current; its `opened` is
    set and cleared here as its run loop does (this one never runs, so writes go unreported)."""
    unfollowed = ChangeFeed(db)
    read = HeldRead(db)
    cache = ProductCache(unfollowed, read, size=100)
    pid = new_id()
    await writer.apply([created(pid)])
    assert version(await cache.get(pid)) == 1
    assert version(await cache.get(pid)) == 1 and read.calls == 2  # not open yet: not kept
    unfollowed.opened.set()
    await cache.get(pid)
    assert len(cache) == 1
    await writer.apply([updated(pid, 2, name="Jug")])
    unfollowed.opened.clear()  # the stream failed: what it did not report must be read
    assert version(await cache.get(pid)) == 2
    assert len(cache) == 0
    unfollowed.opened.set()  # resumed: the entry dropped while closed is read again
    assert version(await cache.get(pid)) == 2 and read.calls == 5


async def test_warming_leaves_out_a_product_changed_meanwhile(
    db: AsyncDatabase[Document], writer: ReadModelWriter, feed: ChangeFeed
) -> None:
    steady, changing = new_id(), new_id()
    async with dispatched(feed, {steady: 1, changing: 1}):
        await writer.apply([created(steady), created(changing)])
    scanned = asyncio.Event()
    release = asyncio.Event()
    warmed = asyncio.Event()

    async def scan(limit: int) -> AsyncIterator[Document]:
        docs = await db[PRODUCTS].find({"_id": {"$in": [steady, changing]}}).to_list()
        scanned.set()
        await release.wait()
        for doc in docs[:limit]:
            yield doc
        warmed.set()  # the cache has taken (or left out) every document

    read = HeldRead(db)
    cache = ProductCache(feed, read, size=100, scan=scan)
    warming = asyncio.create_task(cache.run())
    try:
        await scanned.wait()
        async with dispatched(feed, {changing: 2}):
            await writer.apply([updated(changing, 2, name="Jug")])
        release.set()
        await asyncio.wait_for(warmed.wait(), FEED_DELAY_S)
        assert len(cache) == 1
        assert version(await cache.get(steady)) == 1 and read.calls == 0
        assert version(await cache.get(changing)) == 2 and read.calls == 1
    finally:
        warming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await warming


def version(found: ProductAnswer | None) -> int:
    assert found is not None
    return found.version


def test_every_reader_of_an_answer_gets_a_product_of_its_own() -> None:
    """Requests share cached answers; what one does to its answer must not reach another's."""
    doc = {
        "_id": "p",
        "sku": "S",
        "name": "Mug",
        "description": None,
        "price": {"amount": Decimal128("9.99"), "currency": "EUR"},
        "category": "c",
        "tags": ["a"],
        "brand": None,
        "version": 3,
        "createdAt": datetime(2024, 5, 1, tzinfo=UTC),
        "updatedAt": datetime(2024, 5, 2, tzinfo=UTC),
        "deleted": False,
    }
    found = answer(doc)
    first = found.product()
    assert first == {**documents.product(doc), "tags": ("a",)}
    assert first is not None
    first["name"] = "Changed"
    first["price"]["amount"] = "0.00"
    assert found.product() == {**documents.product(doc), "tags": ("a",)}
    assert answer({**doc, "deleted": True}) == ProductAnswer(3, True, None)


async def test_a_document_that_cannot_be_shaped_does_not_stop_the_feed(
    db: AsyncDatabase[Document], writer: ReadModelWriter
) -> None:
    """The feed hands changes to the cache synchronously; a failure there must stay there."""
    feed = ChangeFeed(db)
    feed.opened.set()  # as if following the stream; its changes are dispatched by hand below
    cache = ProductCache(feed, HeldRead(db), size=10)
    pid = new_id()
    await writer.apply([created(pid)])
    await cache.get(pid)
    assert len(cache) == 1
    with feed.listen(pid) as listener:
        broken = {"_id": pid, "version": 2, "deleted": False}  # no sku, name, price ...
        feed._dispatch(
            {"operationType": "replace", "documentKey": {"_id": pid}, "fullDocument": broken}
        )
        assert listener.queue.qsize() == 1  # the listeners still heard of it
    assert len(cache) == 0  # and the product is read again when asked for
