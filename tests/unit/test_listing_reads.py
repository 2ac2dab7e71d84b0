"""How the query service's listing reads bound a scan (services/query/read_models.py), over an
in-memory collection: a `nameContains` listing waits for its turn (at most `scans_at_once` in
MongoDB at a time) while an indexed one never waits, and MongoDB's time limit is passed on and
answered with QUERY_TOO_BROAD."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.errors import ExecutionTimeout

from services.query import listing
from services.query.app import create_app
from services.query.errors import ListingTooBroad
from services.query.read_models import ReadModels
from shared.adapters.mongo import BY_NAME
from shared.settings import QuerySettings


class Products:
    """What ReadModels asks of the `products` collection, recording how many reads overlap."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.running = 0
        self.most_at_once = 0
        self.options: list[dict[str, Any]] = []
        self._fail_with = fail_with

    async def _read(self) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(0.01)
            if self._fail_with is not None:
                raise self._fail_with
        finally:
            self.running -= 1

    async def count_documents(self, _query: dict[str, Any], **options: Any) -> int:
        self.options.append(options)
        await self._read()
        return 0

    def find(self, _query: dict[str, Any], **options: Any) -> Products:
        self.options.append(options)
        return self

    def sort(self, _spec: Any) -> Products:
        return self

    def limit(self, _n: int) -> Products:
        return self

    async def to_list(self) -> list[dict[str, Any]]:
        await self._read()
        return []


def reads_over(products: Products, scans_at_once: int = 2) -> ReadModels:
    return ReadModels({"products": products}, 250, scans_at_once)  # type: ignore[arg-type]


SCAN = listing.page({"nameContains": "lamp"}, "UPDATED_AT_DESC", 20, None)
INDEXED = listing.page({"category": "cups"}, "PRICE_ASC", 20, None)


async def test_scans_take_turns_and_indexed_listings_do_not_wait() -> None:
    scans = Products()
    reads = reads_over(scans, scans_at_once=2)
    await asyncio.gather(
        *(reads.page(SCAN) for _ in range(6)), *(reads.count(SCAN) for _ in range(6))
    )
    assert scans.most_at_once == 2

    indexed = Products()
    reads = reads_over(indexed, scans_at_once=2)
    await asyncio.gather(*(reads.page(INDEXED) for _ in range(6)))
    assert indexed.most_at_once == 6


async def test_the_time_bound_goes_to_mongodb_and_a_count_of_names_reads_the_name_index() -> None:
    products = Products()
    reads = reads_over(products)
    await reads.page(SCAN)
    await reads.count(SCAN)
    await reads.count(INDEXED)
    assert products.options == [
        {"max_time_ms": 250},
        {"maxTimeMS": 250, "hint": BY_NAME},
        {"maxTimeMS": 250},
    ]


@pytest.mark.parametrize("page", [SCAN, INDEXED])
async def test_a_read_past_the_bound_is_refused_as_too_broad(page: listing.Page) -> None:
    reads = reads_over(Products(fail_with=ExecutionTimeout("operation exceeded time limit")))
    with pytest.raises(ListingTooBroad) as page_refused:
        await reads.page(page)
    with pytest.raises(ListingTooBroad):
        await reads.count(page)
    assert page_refused.value.code == "QUERY_TOO_BROAD"
    assert "250 ms" in page_refused.value.message


@pytest.mark.parametrize(("workers", "each"), [(1, 2), (2, 1), (4, 1)])
def test_a_query_services_workers_share_its_scans(workers: int, each: int) -> None:
    """Two unindexed scans at a time per query service, whatever its QUERY_WORKERS: with more
    processes each runs fewer (never none), so MongoDB is not handed more at once."""
    settings = QuerySettings(query_workers=workers, mongodb_url="mongodb://127.0.0.1:1")
    app = create_app(settings)  # pymongo connects on first use: nothing is reached here
    assert app.state.read_models.scans_at_once == each
