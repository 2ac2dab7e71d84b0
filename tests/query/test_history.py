"""`productHistory`, `productAt`, `categories` and `projectionStatus`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from bson.decimal128 import Decimal128
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.writer import ReadModelWriter
from shared.adapters.mongo import CATEGORY_STATS, PROJECTION_STATUS
from tests.query.client import Document, data, error_codes, gql
from tests.query.events import created, deleted, new_id, updated

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
HISTORY = "query($id: ID!) { productHistory(id: $id) { eventId type version occurredAt data } }"
AT = """query($id: ID!, $at: DateTime!) { productAt(id: $id, at: $at) {
  id name description price { amount currency } category tags version createdAt updatedAt } }"""


def at(minutes: float) -> str:
    moment = T0 + timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture(scope="module")
async def lifecycle(writer: ReadModelWriter) -> tuple[str, list[str]]:
    """Created at T0, renamed at +10, repriced and uncategorized at +20, deleted at +30."""
    pid = new_id()
    log = [
        created(pid, "Mug", "9.99", "EUR", category="kitchen", tags=("a",), time=T0),
        updated(pid, 2, T0 + timedelta(minutes=10), name="Big mug"),
        updated(
            pid,
            3,
            T0 + timedelta(minutes=20),
            price={"amount": "12.5", "currency": "EUR"},
            category=None,
        ),
        deleted(pid, 4, T0 + timedelta(minutes=30)),
    ]
    await writer.apply(log[:2])
    await writer.apply(log[2:])
    return pid, [e.event_id for e in log]


async def test_history_is_every_event_oldest_first_with_its_data(
    http: httpx.AsyncClient, lifecycle: tuple[str, list[str]]
) -> None:
    pid, event_ids = lifecycle
    history = (await data(http, HISTORY, id=pid))["productHistory"]
    assert [(e["eventId"], e["type"], e["version"]) for e in history] == list(
        zip(
            event_ids,
            ["ProductCreated", "ProductUpdated", "ProductUpdated", "ProductDeleted"],
            [1, 2, 3, 4],
            strict=True,
        )
    )
    assert [e["occurredAt"] for e in history] == [at(0), at(10), at(20), at(30)]
    assert history[0]["data"] == {
        "id": pid,
        "sku": "MUG-1",
        "name": "Mug",
        "description": None,
        "price": {"amount": "9.99", "currency": "EUR"},
        "category": "kitchen",
        "tags": ["a"],
        "brand": None,
    }
    assert history[1]["data"] == {"id": pid, "name": "Big mug"}
    assert history[2]["data"] == {
        "id": pid,
        "price": {"amount": "12.50", "currency": "EUR"},
        "category": None,
    }
    assert history[3]["data"] == {"id": pid}


async def test_history_of_an_unknown_product_is_empty(http: httpx.AsyncClient) -> None:
    assert (await data(http, HISTORY, id=new_id()))["productHistory"] == []


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(-1), None),
        (
            at(0),
            {
                "name": "Mug",
                "price": "9.99",
                "category": "kitchen",
                "version": 1,
                "updatedAt": at(0),
            },
        ),
        (
            at(9.99),
            {
                "name": "Mug",
                "price": "9.99",
                "category": "kitchen",
                "version": 1,
                "updatedAt": at(0),
            },
        ),
        (
            at(10),
            {
                "name": "Big mug",
                "price": "9.99",
                "category": "kitchen",
                "version": 2,
                "updatedAt": at(10),
            },
        ),
        (
            at(25),
            {
                "name": "Big mug",
                "price": "12.50",
                "category": None,
                "version": 3,
                "updatedAt": at(20),
            },
        ),
        (at(30), None),
        (at(60 * 24 * 365), None),
    ],
)
async def test_product_at_folds_the_history_up_to_the_moment(
    http: httpx.AsyncClient,
    lifecycle: tuple[str, list[str]],
    moment: str,
    expected: Document | None,
) -> None:
    pid, _ = lifecycle
    product = (await data(http, AT, id=pid, at=moment))["productAt"]
    if expected is None:
        assert product is None
        return
    assert product == {
        "id": pid,
        "name": expected["name"],
        "description": None,
        "price": {"amount": expected["price"], "currency": "EUR"},
        "category": expected["category"],
        "tags": ["a"],
        "version": expected["version"],
        "createdAt": at(0),
        "updatedAt": expected["updatedAt"],
    }


async def test_product_at_accepts_offsets_and_naive_utc(
    http: httpx.AsyncClient, lifecycle: tuple[str, list[str]]
) -> None:
    pid, _ = lifecycle
    berlin = (T0 + timedelta(minutes=15)).astimezone().isoformat()
    assert (await data(http, AT, id=pid, at=berlin))["productAt"]["version"] == 2
    assert (await data(http, AT, id=pid, at="2024-03-01T12:15:00+01:00"))["productAt"] is None
    assert (await data(http, AT, id=pid, at="2024-03-01T12:15:00"))["productAt"]["version"] == 2


@pytest.mark.parametrize("moment", ["yesterday", "2024-13-01T00:00:00Z", ""])
async def test_a_bad_date_time_is_bad_user_input(http: httpx.AsyncClient, moment: str) -> None:
    body = await gql(http, AT, id=new_id(), at=moment)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "$at" in body["errors"][0]["message"] and "ISO-8601" in body["errors"][0]["message"]


async def test_a_bad_date_time_literal_is_bad_user_input(http: httpx.AsyncClient) -> None:
    body = await gql(http, '{ productAt(id: "x", at: "soon") { id } }')
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 26}]
    body = await gql(http, '{ productAt(id: "x", at: 5) { id } }')
    assert error_codes(body) == ["BAD_USER_INPUT"]


CATEGORIES = "{ categories { category currency productCount minPrice maxPrice averagePrice } }"


async def test_categories_have_money_as_decimal_strings_and_a_rounded_average(
    http: httpx.AsyncClient, db: AsyncDatabase[Document]
) -> None:
    """Statistics as the projector writes them: Decimal128, the average with all its digits."""
    category = f"cat-{new_id()[:8]}"

    def stats(currency: str, count: int, low: str, high: str, average: str) -> Document:
        return {
            "_id": {"category": category, "currency": currency},
            "category": category,
            "currency": currency,
            "productCount": count,
            "minPrice": Decimal128(low),
            "maxPrice": Decimal128(high),
            "averagePrice": Decimal128(average),
        }

    await db[CATEGORY_STATS].insert_many(
        [
            stats("JPY", 2, "1", "2", "1.5"),  # half-up: 2
            stats("EUR", 3, "10.00", "10.01", "10.00333333333333333333333333333333"),
            stats("BHD", 1, "0.005", "0.005", "0.005"),
            stats("USD", 2, "0.01", "0.02", "0.015"),  # half-up: 0.02
        ]
    )
    rows = [r for r in (await data(http, CATEGORIES))["categories"] if r["category"] == category]
    assert rows == [
        {
            "category": category,
            "currency": "BHD",
            "productCount": 1,
            "minPrice": "0.005",
            "maxPrice": "0.005",
            "averagePrice": "0.005",
        },
        {
            "category": category,
            "currency": "EUR",
            "productCount": 3,
            "minPrice": "10.00",
            "maxPrice": "10.01",
            "averagePrice": "10.00",
        },
        {
            "category": category,
            "currency": "JPY",
            "productCount": 2,
            "minPrice": "1",
            "maxPrice": "2",
            "averagePrice": "2",
        },
        {
            "category": category,
            "currency": "USD",
            "productCount": 2,
            "minPrice": "0.01",
            "maxPrice": "0.02",
            "averagePrice": "0.02",
        },
    ]


STATUS = "{ projectionStatus { partitions { partition lag } lastEventTime updatedAt } }"


async def test_projection_status(http: httpx.AsyncClient, db: AsyncDatabase[Document]) -> None:
    await db[PROJECTION_STATUS].delete_many({})
    assert (await data(http, STATUS))["projectionStatus"] == {
        "partitions": [],
        "lastEventTime": None,
        "updatedAt": None,
    }
    await db[PROJECTION_STATUS].insert_one(
        {
            "_id": "projector",
            "partitions": [{"partition": 0, "lag": 3}, {"partition": 1, "lag": 0}],
            "lastEventTime": T0,
            "updatedAt": T0 + timedelta(seconds=1),
        }
    )
    assert (await data(http, STATUS))["projectionStatus"] == {
        "partitions": [{"partition": 0, "lag": 3}, {"partition": 1, "lag": 0}],
        "lastEventTime": "2024-03-01T12:00:00.000Z",
        "updatedAt": "2024-03-01T12:00:01.000Z",
    }
