"""`product` and `products`: lookups, tombstones, filters and argument validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.projector.writer import ReadModelWriter
from tests.query.client import data, error_codes, gql
from tests.query.events import created, deleted, new_id, updated

PRODUCT = """query($id: ID!) { product(id: $id) {
  id sku name description price { amount currency } category tags version createdAt updatedAt } }"""
LIST = """query($filter: ProductFilter, $sort: ProductSort, $first: Int, $after: String) {
  products(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id name price { amount currency } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }"""


async def test_a_product_by_id_has_every_field(
    http: httpx.AsyncClient, writer: ReadModelWriter
) -> None:
    pid = new_id()
    first = created(
        pid,
        "Blue mug",
        "12.50",
        "EUR",
        category="kitchen",
        tags=("blue", "mug"),
        sku="MUG-BLUE",
        description="Holds coffee",
    )
    await writer.apply([first, updated(pid, 2, name="Big blue mug")])
    product = (await data(http, PRODUCT, id=pid))["product"]
    assert product == {
        "id": pid,
        "sku": "MUG-BLUE",
        "name": "Big blue mug",
        "description": "Holds coffee",
        "price": {"amount": "12.50", "currency": "EUR"},
        "category": "kitchen",
        "tags": ["blue", "mug"],
        "version": 2,
        "createdAt": product["createdAt"],
        "updatedAt": product["updatedAt"],
    }
    assert product["createdAt"].endswith("Z") and product["createdAt"] <= product["updatedAt"]
    assert product["createdAt"][:23] == first.time.isoformat()[:23]


async def test_unknown_and_deleted_products_are_null(
    http: httpx.AsyncClient, writer: ReadModelWriter
) -> None:
    pid = new_id()
    await writer.apply([created(pid), deleted(pid, 2)])
    assert (await data(http, PRODUCT, id=pid))["product"] is None
    assert (await data(http, PRODUCT, id=new_id()))["product"] is None
    listed = await data(http, LIST, filter={"nameContains": "Mug"}, first=100)
    assert pid not in [e["node"]["id"] for e in listed["products"]["edges"]]


@pytest.fixture(scope="module")
async def catalog(writer: ReadModelWriter) -> dict[str, str]:
    """A small catalog for the filter tests; names are unique so results are easy to name."""
    specs: list[tuple[str, str, str, str | None, tuple[str, ...]]] = [
        ("Red Mug", "9.99", "EUR", "kitchen", ("red", "ceramic")),
        ("Blue mug (large)", "12.50", "EUR", "kitchen", ("blue", "ceramic")),
        ("Teapot", "24.00", "EUR", "kitchen", ("ceramic",)),
        ("Desk lamp", "35.00", "EUR", "office", ("light",)),
        ("Mug.* regex", "10.00", "USD", "office", ()),
        ("Yen mug", "1200", "JPY", None, ("red",)),
        ("Gone mug", "9.99", "EUR", "kitchen", ("red",)),
    ]
    ids = {name: new_id() for name, *_ in specs}
    await writer.apply(
        [
            created(ids[name], name, amount, currency, category=category, tags=tags)
            for name, amount, currency, category, tags in specs
        ]
    )
    await writer.apply([deleted(ids["Gone mug"], 2)])
    return ids


@pytest.mark.parametrize(
    ("filter", "names"),
    [
        ({}, ["Blue mug (large)", "Desk lamp", "Mug.* regex", "Red Mug", "Teapot", "Yen mug"]),
        ({"category": "kitchen"}, ["Blue mug (large)", "Red Mug", "Teapot"]),
        ({"tag": "red"}, ["Red Mug", "Yen mug"]),
        ({"nameContains": "MUG"}, ["Blue mug (large)", "Mug.* regex", "Red Mug", "Yen mug"]),
        ({"nameContains": "mug (large"}, ["Blue mug (large)"]),  # taken literally
        ({"nameContains": "Mug.*"}, ["Mug.* regex"]),  # not a pattern
        ({"currency": "eur"}, ["Blue mug (large)", "Desk lamp", "Red Mug", "Teapot"]),
        ({"currency": "EUR", "minPrice": "12.5"}, ["Blue mug (large)", "Desk lamp", "Teapot"]),
        ({"currency": "EUR", "maxPrice": "12.50"}, ["Blue mug (large)", "Red Mug"]),
        (
            {"currency": "EUR", "minPrice": "9.99", "maxPrice": "24"},
            ["Blue mug (large)", "Red Mug", "Teapot"],
        ),
        ({"minPrice": "1000"}, ["Yen mug"]),
        ({"category": "kitchen", "tag": "ceramic", "maxPrice": "10"}, ["Red Mug"]),
        ({"category": "garden"}, []),
    ],
)
async def test_filters(
    http: httpx.AsyncClient, catalog: dict[str, str], filter: dict[str, Any], names: list[str]
) -> None:
    scoped = {"filter": filter, "first": 100}
    result = (await data(http, LIST, **scoped))["products"]
    got = [e["node"]["name"] for e in result["edges"] if e["node"]["id"] in catalog.values()]
    assert got == names
    assert result["totalCount"] >= len(names)  # other tests' products share the database


async def test_prices_are_decimal_strings_in_the_currencys_minor_unit(
    http: httpx.AsyncClient, catalog: dict[str, str]
) -> None:
    result = await data(http, PRODUCT, id=catalog["Yen mug"])
    assert result["product"]["price"] == {"amount": "1200", "currency": "JPY"}
    result = await data(http, PRODUCT, id=catalog["Teapot"])
    assert result["product"]["price"] == {"amount": "24.00", "currency": "EUR"}


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"after": "not a cursor"}, "after"),
        ({"filter": {"minPrice": "abc"}}, "filter.minPrice"),
        ({"filter": {"maxPrice": "-1"}}, "filter.maxPrice"),
        ({"filter": {"currency": "XXX"}}, "filter.currency"),
        ({"filter": {"nameContains": "x" * 201}}, "filter.nameContains"),
    ],
)
async def test_bad_arguments_are_bad_user_input_naming_the_field(
    http: httpx.AsyncClient, variables: dict[str, Any], field: str
) -> None:
    body = await gql(http, LIST, **variables)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    assert body["data"] is None


async def test_first_defaults_to_20_and_accepts_100(
    http: httpx.AsyncClient, writer: ReadModelWriter
) -> None:
    tag = new_id()
    await writer.apply([created(new_id(), f"Item {i:03}", tags=(tag,)) for i in range(120)])
    default = (await data(http, LIST, filter={"tag": tag}))["products"]
    assert len(default["edges"]) == 20 and default["pageInfo"]["hasNextPage"]
    assert default["totalCount"] == 120
    most = (await data(http, LIST, filter={"tag": tag}, first=100))["products"]
    assert len(most["edges"]) == 100
    rest = await data(
        http, LIST, filter={"tag": tag}, first=100, after=most["pageInfo"]["endCursor"]
    )
    page = rest["products"]
    assert len(page["edges"]) == 20
    assert page["pageInfo"]["hasNextPage"] is False and page["pageInfo"]["hasPreviousPage"] is True
    none = (await data(http, LIST, filter={"tag": tag}, first=0))["products"]
    assert none["edges"] == [] and none["pageInfo"]["hasNextPage"] is True


async def test_a_cursor_only_continues_the_sort_it_came_from(
    http: httpx.AsyncClient, catalog: dict[str, str]
) -> None:
    page = (await data(http, LIST, sort="PRICE_ASC", first=1))["products"]
    body = await gql(http, LIST, sort="NAME_ASC", after=page["pageInfo"]["endCursor"])
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "after"
