"""End to end over real HTTP and WebSocket: mutation → Kafka → projector → MongoDB → query.

The client is `gql`, a third-party GraphQL client, with its HTTP and WebSocket transports, so
the endpoints are exercised the way any outside client would use them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.conftest import Stack
from tests.support import auth
from tests.support.kafka import read_all

CREATE = """mutation($input: CreateProductInput!) { createProduct(input: $input) { id version eventId } }"""
UPDATE = """mutation($input: UpdateProductInput!) { updateProduct(input: $input) { id version } }"""
DELETE = """mutation($input: DeleteProductInput!) { deleteProduct(input: $input) { id version } }"""
PRODUCT = """query($id: ID!, $min: Int) { product(id: $id, minVersion: $min) {
  id sku name description price { amount currency } category tags brand version createdAt updatedAt } }"""


def product_input(**fields: Any) -> dict[str, Any]:
    return {
        "sku": "MUG-1",
        "name": "Mug",
        "price": {"amount": "12.50", "currency": "EUR"},
        "category": "cups",
        **fields,
    }


@pytest.fixture
async def writer(stack: Stack) -> AsyncIterator[Any]:
    async with Client(
        transport=HTTPXAsyncTransport(
            url=stack.command.graphql_url, timeout=30, headers=auth.headers()
        )
    ) as session:
        yield session


@pytest.fixture
async def reader(stack: Stack) -> AsyncIterator[Any]:
    async with Client(
        transport=HTTPXAsyncTransport(url=stack.query.graphql_url, timeout=30)
    ) as session:
        yield session


async def run(session: Any, query: str, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = await session.execute(GraphQLRequest(query, variable_values=variables))
    return result


async def test_every_service_serves_health_ready_and_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        for service in (stack.command, stack.projector, stack.query):
            assert (await client.get(f"{service.url}/health")).json() == {"status": "ok"}
            ready = await client.get(f"{service.url}/ready")
            assert ready.status_code == 200 and ready.json()["ready"] is True
            metrics = await client.get(f"{service.url}/metrics")
            assert (
                metrics.headers["content-type"].startswith("text/plain")
                and "# TYPE" in metrics.text
            )


async def test_created_product_travels_the_whole_way(
    stack: Stack, writer: Any, reader: Any
) -> None:
    created = (await run(writer, CREATE, input=product_input(tags=["kitchen"], brand="Acme")))[
        "createProduct"
    ]
    records = await read_all(stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.env["EVENTS_TOPIC"])
    mine = [r for r in records if r.key == created["id"]]
    assert [(r.headers["ce_type"], r.headers["ce_id"]) for r in mine] == [
        ("catalog.ProductCreated.v2", created["eventId"])
    ]
    product = (await run(reader, PRODUCT, id=created["id"], min=1))["product"]
    assert product | {"createdAt": None, "updatedAt": None} == {
        "id": created["id"],
        "sku": "MUG-1",
        "name": "Mug",
        "description": None,
        "price": {"amount": "12.50", "currency": "EUR"},
        "category": "cups",
        "tags": ["kitchen"],
        "brand": "Acme",
        "version": 1,
        "createdAt": None,
        "updatedAt": None,
    }
    assert mine[0].headers["ce_time"].startswith(product["createdAt"][:19])


async def test_read_your_writes_a_hundred_times_in_a_row(writer: Any, reader: Any) -> None:
    pid = (await run(writer, CREATE, input=product_input()))["createProduct"]["id"]
    for i in range(100):
        answer = (
            await run(
                writer,
                UPDATE,
                input={
                    "id": pid,
                    "name": f"Mug {i}",
                    "price": {"amount": f"{i}.00", "currency": "EUR"},
                },
            )
        )["updateProduct"]
        product = (await run(reader, PRODUCT, id=pid, min=answer["version"]))["product"]
        assert (product["version"], product["name"], product["price"]["amount"]) == (
            answer["version"],
            f"Mug {i}",
            f"{i}.00",
        )


async def test_a_subscriber_sees_create_update_and_delete_in_order(
    stack: Stack, writer: Any
) -> None:
    pid = str(uuid.uuid4())
    ws_url = stack.query.graphql_url.replace("http://", "ws://")
    transport = WebsocketsTransport(
        url=ws_url, subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]
    )
    seen: list[tuple[str, int]] = []
    subscribed = asyncio.Event()

    async def subscribe() -> None:
        async with Client(transport=transport) as session:
            request = GraphQLRequest(
                "subscription($id: ID) { productChanged(id: $id) { id type version product { name } } }",
                variable_values={"id": pid},
            )
            stream = session.subscribe(request)
            subscribed.set()
            async for change in stream:
                seen.append((change["productChanged"]["type"], change["productChanged"]["version"]))
                if change["productChanged"]["type"] == "DELETED":
                    return

    task = asyncio.create_task(subscribe())
    await subscribed.wait()
    await asyncio.sleep(0.5)  # let the server register the subscription before the first change
    await run(writer, CREATE, input=product_input(id=pid))
    await asyncio.sleep(0.3)  # one projection batch per change, so each is seen on its own
    await run(writer, UPDATE, input={"id": pid, "name": "Cup"})
    await asyncio.sleep(0.3)
    await run(writer, DELETE, input={"id": pid})
    await asyncio.wait_for(task, 15)
    assert seen == [("CREATED", 1), ("UPDATED", 2), ("DELETED", 3)]


async def test_every_query_through_a_third_party_client(
    stack: Stack, writer: Any, reader: Any
) -> None:
    pid = (
        await run(
            writer,
            CREATE,
            input=product_input(sku="TEA-1", name="Teapot", category="tea", tags=["tea"]),
        )
    )["createProduct"]["id"]
    await run(writer, UPDATE, input={"id": pid, "price": {"amount": "30.00", "currency": "EUR"}})
    await run(reader, PRODUCT, id=pid, min=2)
    page = await run(
        reader,
        """query { products(filter: {category: "tea", tag: "tea", nameContains: "TEAP",
        currency: "EUR", minPrice: "29.99", maxPrice: "30.00"}, sort: PRICE_DESC, first: 5) {
        totalCount edges { cursor node { id price { amount } } } pageInfo { hasNextPage endCursor } } }""",
    )
    assert page["products"]["totalCount"] == 1
    assert [e["node"]["id"] for e in page["products"]["edges"]] == [pid]
    history = await run(
        reader,
        "query($id: ID!) { productHistory(id: $id) { eventId type version occurredAt data } }",
        id=pid,
    )
    assert [(h["type"], h["version"]) for h in history["productHistory"]] == [
        ("ProductCreated", 1),
        ("ProductUpdated", 2),
    ]
    assert history["productHistory"][1]["data"] == {
        "id": pid,
        "price": {"currency": "EUR", "amount": "30.00"},
    }
    first_time = history["productHistory"][0]["occurredAt"]
    before = await run(
        reader,
        "query($id: ID!, $at: DateTime!) { productAt(id: $id, at: $at) { version price { amount } } }",
        id=pid,
        at=first_time,
    )
    assert before["productAt"] == {"version": 1, "price": {"amount": "12.50"}}
    categories = await run(
        reader,
        "query { categories { category currency productCount minPrice maxPrice averagePrice } }",
    )
    assert {
        "category": "tea",
        "currency": "EUR",
        "productCount": 1,
        "minPrice": "30.00",
        "maxPrice": "30.00",
        "averagePrice": "30.00",
    } in categories["categories"]
    status = await run(
        reader, "query { projectionStatus { partitions { partition lag } lastEventTime } }"
    )
    assert status["projectionStatus"]["lastEventTime"] is not None
    with pytest.raises(TransportQueryError) as refused:
        await run(reader, "query { products(first: 101) { totalCount } }")
    assert (
        refused.value.errors is not None
        and refused.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    )


@pytest.mark.parametrize(
    "sort",
    [
        "NAME_ASC",
        "NAME_DESC",
        "PRICE_ASC",
        "PRICE_DESC",
        "CREATED_AT_ASC",
        "CREATED_AT_DESC",
        "UPDATED_AT_DESC",
    ],
)
async def test_paging_through_a_thousand_products_yields_each_once_in_order(
    stack: Stack, writer: Any, reader: Any, sort: str
) -> None:
    category = "paging"
    existing = (
        await run(
            reader, 'query { products(filter: {category: "paging"}, first: 1) { totalCount } }'
        )
    )["products"]["totalCount"]
    if existing < 1000:
        semaphore = asyncio.Semaphore(32)

        async def create(i: int) -> dict[str, Any]:
            async with semaphore:
                # few distinct names and prices, so ties must be broken by id
                return await run(
                    writer,
                    CREATE,
                    input=product_input(
                        sku=f"P-{i}",
                        name=f"Item {i % 37:02d}",
                        category=category,
                        price={"amount": f"{i % 53}.00", "currency": "EUR"},
                    ),
                )

        created = await asyncio.gather(*(create(i) for i in range(1000)))
        last = max(created, key=lambda c: c["createProduct"]["id"])["createProduct"]["id"]
        await run(reader, PRODUCT, id=last, min=1)
        for _ in range(100):  # the projector applies in batches; wait until all are visible
            count = await run(
                reader, 'query { products(filter: {category: "paging"}, first: 1) { totalCount } }'
            )
            if count["products"]["totalCount"] == 1000:
                break
            await asyncio.sleep(0.2)
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = (
            await run(
                reader,
                """query($sort: ProductSort, $after: String) {
            products(filter: {category: "paging"}, sort: $sort, first: 100, after: $after) {
            edges { node { id name price { amount } createdAt updatedAt } } pageInfo { hasNextPage endCursor } } }""",
                sort=sort,
                after=after,
            )
        )["products"]
        seen.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 1000 and len({p["id"] for p in seen}) == 1000
    field, descending = {
        "NAME_ASC": ("name", False),
        "NAME_DESC": ("name", True),
        "PRICE_ASC": ("price", False),
        "PRICE_DESC": ("price", True),
        "CREATED_AT_ASC": ("createdAt", False),
        "CREATED_AT_DESC": ("createdAt", True),
        "UPDATED_AT_DESC": ("updatedAt", True),
    }[sort]
    from decimal import Decimal

    def key(p: dict[str, Any]) -> Any:
        return Decimal(p["price"]["amount"]) if field == "price" else p[field]

    keys = [key(p) for p in seen]
    assert keys == sorted(keys, reverse=descending)
