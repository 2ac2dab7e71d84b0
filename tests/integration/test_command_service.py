"""The write side against real Kafka, with the command service as a real process (invariants 1-4)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from services.command.routing import partition_for
from shared.domain.commands import PRODUCT_ID_NAMESPACE
from tests.support import auth
from tests.support.kafka import assert_gapless, read_all
from tests.support.services import Service, graphql, id_in, ownership, wait_until_shared

CREATE = """mutation($input: CreateProductInput!) {
  createProduct(input: $input) { id version eventId position { partition offset } } }"""
UPDATE = """mutation($input: UpdateProductInput!) {
  updateProduct(input: $input) { id version eventId position { partition offset } } }"""
DELETE = """mutation($input: DeleteProductInput!) {
  deleteProduct(input: $input) { id version eventId position { partition offset } } }"""


def product_input(**fields: Any) -> dict[str, Any]:
    return {"sku": "MUG-1", "name": "Mug", "price": {"amount": "9.99", "currency": "EUR"}, **fields}


@pytest.fixture
def command(isolated_env: dict[str, str]) -> Iterator[Service]:
    service = Service("command", isolated_env).start()
    yield service
    service.stop()


@pytest.fixture
async def http() -> Any:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        yield client


async def mutate(
    http: httpx.AsyncClient, service: Service, query: str, input: dict[str, Any]
) -> dict[str, Any]:
    return await graphql(http, service.graphql_url, query, {"input": input})


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors")
    return errors[0]["extensions"]["code"] if errors else None


async def test_create_appends_one_cloudevent_and_answers_its_position(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    body = await mutate(http, command, CREATE, product_input(tags=["kitchen"], commandId="cmd-1"))
    answer = body["data"]["createProduct"]
    assert answer["version"] == 1
    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])
    assert len(records) == 1
    record = records[0]
    assert (record.partition, str(record.offset)) == (
        answer["position"]["partition"],
        answer["position"]["offset"],
    )
    assert record.key == answer["id"]
    assert record.headers | {"ce_time": "", "ce_correlationid": ""} == {
        "ce_specversion": "1.0",
        "ce_id": answer["eventId"],
        "ce_source": "/catalog/command-service",
        "ce_authtype": "app_user",
        "ce_authid": "test-user",
        "ce_type": "catalog.ProductCreated.v2",
        "ce_time": "",
        "ce_subject": answer["id"],
        "content-type": "application/json",
        "ce_sequence": "1",
        "ce_correlationid": "",
        "ce_causationid": "cmd-1",
    }
    assert record.headers["ce_correlationid"]
    assert orjson.loads(record.value) == {
        "id": answer["id"],
        "sku": "MUG-1",
        "name": "Mug",
        "description": None,
        "price": {"currency": "EUR", "amount": "9.99"},
        "category": None,
        "tags": ["kitchen"],
        "brand": None,
    }


async def test_correlation_id_of_the_request_travels_with_the_event(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    response = await http.post(
        command.graphql_url,
        json={"query": CREATE, "variables": {"input": product_input()}},
        headers={"X-Correlation-ID": "trace-42", **auth.headers()},
    )
    assert response.headers["X-Correlation-ID"] == "trace-42"
    # An id the log should not keep forever (too long, control characters) is replaced.
    replaced = []
    for bad in ("x" * 129, "tab\there"):
        response = await http.post(
            command.graphql_url,
            json={"query": CREATE, "variables": {"input": product_input(sku=f"S{len(bad)}")}},
            headers={"X-Correlation-ID": bad, **auth.headers()},
        )
        assert response.json()["data"]["createProduct"]["version"] == 1
        generated = response.headers["X-Correlation-ID"]
        assert generated != bad and 0 < len(generated) <= 128
        replaced.append(generated)
    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])
    assert sorted(r.headers["ce_correlationid"] for r in records) == sorted(["trace-42", *replaced])


async def test_errors_have_codes_and_write_nothing(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    created = (await mutate(http, command, CREATE, product_input()))["data"]["createProduct"]
    pid = created["id"]
    unknown = str(uuid.uuid4())
    cases = [
        (CREATE, product_input(sku="bad sku"), "BAD_USER_INPUT"),
        (CREATE, product_input(price={"amount": "1.999", "currency": "EUR"}), "BAD_USER_INPUT"),
        (CREATE, product_input(price={"amount": "1", "currency": "ABC"}), "BAD_USER_INPUT"),
        (CREATE, product_input(id=pid), "ALREADY_EXISTS"),
        (UPDATE, {"id": unknown, "name": "x"}, "NOT_FOUND"),
        (UPDATE, {"id": pid, "name": "x", "expectedVersion": 7}, "CONCURRENCY_CONFLICT"),
        (UPDATE, {"id": pid, "name": ""}, "BAD_USER_INPUT"),
        (DELETE, {"id": unknown}, "NOT_FOUND"),
    ]
    for query, input, expected in cases:
        body = await mutate(http, command, query, input)
        assert code(body) == expected, body
        assert "stacktrace" not in orjson.dumps(body).decode()
    conflict = await mutate(http, command, UPDATE, {"id": pid, "name": "x", "expectedVersion": 7})
    assert conflict["errors"][0]["extensions"] == {
        "code": "CONCURRENCY_CONFLICT",
        "expectedVersion": 7,
        "actualVersion": 1,
    }
    bad = await mutate(http, command, CREATE, product_input(sku="bad sku"))
    assert bad["errors"][0]["extensions"]["field"] == "sku"
    assert (await mutate(http, command, DELETE, {"id": pid}))["data"]["deleteProduct"][
        "version"
    ] == 2
    assert code(await mutate(http, command, UPDATE, {"id": pid, "name": "x"})) == "PRODUCT_DELETED"
    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])
    assert [r.headers["ce_type"] for r in records] == [
        "catalog.ProductCreated.v2",
        "catalog.ProductDeleted.v1",
    ]


async def test_an_update_that_changes_nothing_appends_nothing(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    pid = (await mutate(http, command, CREATE, product_input()))["data"]["createProduct"]["id"]
    same = await mutate(
        http,
        command,
        UPDATE,
        {"id": pid, "name": "Mug", "price": {"amount": "9.990", "currency": "EUR"}},
    )
    assert code(same) == "BAD_USER_INPUT"  # three decimals for EUR is refused, not rounded
    same = await mutate(
        http,
        command,
        UPDATE,
        {"id": pid, "name": "Mug", "price": {"amount": "9.99", "currency": "eur"}},
    )
    assert same["data"]["updateProduct"] == {
        "id": pid,
        "version": 1,
        "eventId": None,
        "position": None,
    }
    changed = await mutate(http, command, UPDATE, {"id": pid, "name": "Cup", "expectedVersion": 1})
    assert changed["data"]["updateProduct"]["version"] == 2
    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])
    assert [orjson.loads(r.value) for r in records][1] == {"id": pid, "name": "Cup"}


async def test_concurrent_updates_with_one_expected_version_one_wins(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    pid = (await mutate(http, command, CREATE, product_input()))["data"]["createProduct"]["id"]
    bodies = await asyncio.gather(
        *(
            mutate(http, command, UPDATE, {"id": pid, "name": f"Name {i}", "expectedVersion": 1})
            for i in range(50)
        )
    )
    outcomes = Counter(code(b) or "OK" for b in bodies)
    assert outcomes == {"OK": 1, "CONCURRENCY_CONFLICT": 49}
    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])
    assert [r.sequence for r in records] == [1, 2]


async def test_a_thousand_concurrent_mutations_keep_every_product_gapless(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(100)]
    created = await asyncio.gather(
        *(mutate(http, command, CREATE, product_input(id=pid)) for pid in ids)
    )
    assert all(code(b) is None for b in created)
    rng = random.Random(7)
    semaphore = asyncio.Semaphore(64)

    async def one(i: int) -> dict[str, Any]:
        pid = rng.choice(ids)
        async with semaphore:
            return await mutate(
                http, command, UPDATE, {"id": pid, "name": f"n{i}", "tags": [f"t{i % 7}"]}
            )

    bodies = await asyncio.gather(*(one(i) for i in range(900)))
    assert all(code(b) is None for b in bodies), [b for b in bodies if code(b)][:3]
    appended = sum(1 for b in bodies if b["data"]["updateProduct"]["eventId"])
    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])
    products = assert_gapless(records)
    assert set(products) == set(ids)
    assert len(records) == 100 + appended
    answered = {b["data"]["updateProduct"]["eventId"] for b in bodies} - {None}
    assert answered == {r.headers["ce_id"] for r in records if r.sequence > 1}


async def test_a_retried_command_id_returns_the_first_answer_even_after_a_restart(
    command: Service, http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    first = await mutate(http, command, CREATE, product_input(commandId="retry-me"))
    concurrent = await asyncio.gather(
        *(mutate(http, command, CREATE, product_input(commandId="retry-me")) for _ in range(10))
    )
    assert all(b == first for b in concurrent)
    pid = first["data"]["createProduct"]["id"]
    update = {"id": pid, "name": "Cup", "commandId": "retry-update"}
    updated = await mutate(http, command, UPDATE, update)
    command.kill()
    command.start()
    assert await mutate(http, command, CREATE, product_input(commandId="retry-me")) == first
    assert await mutate(http, command, UPDATE, update) == updated
    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])
    assert [r.sequence for r in records] == [1, 2]


@pytest.fixture
def pair(command: Service) -> Iterator[tuple[Service, Service]]:
    """A second instance in the same group: the two share the partitions."""
    second = Service("command", {k: v for k, v in command.env.items() if k != "COMMAND_PORT"})
    second.start()
    try:
        wait_until_shared(command, second)
        yield command, second
    finally:
        second.stop()


async def test_a_second_instance_shares_the_partitions_and_either_answers_any_mutation(
    pair: tuple[Service, Service], http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    first, second = pair
    owners = ownership(first)["owners"]
    assert set(owners.values()) == {first.url, second.url}
    # Two products in every partition, each created through the instance that does NOT own it.
    created = []
    for pid in [id_in(p) for p in range(6) for _ in range(2)]:
        owner = owners[str(partition_for(pid, 6))]
        other = second if owner == first.url else first
        body = await mutate(http, other, CREATE, product_input(id=pid))
        created.append(body["data"]["createProduct"])
    partitions = {c["position"]["partition"] for c in created}
    assert partitions == set(range(6))
    for answer in created:
        pid = answer["id"]
        owner = owners[str(answer["position"]["partition"])]
        other = second if owner == first.url else first
        # Through the non-owner, refusals come back exactly as the owner gives them ...
        conflict = await mutate(http, other, UPDATE, {"id": pid, "name": "x", "expectedVersion": 9})
        assert conflict["errors"][0]["extensions"] == {
            "code": "CONCURRENCY_CONFLICT",
            "expectedVersion": 9,
            "actualVersion": 1,
        }
        assert (
            conflict["errors"][0]["message"] == "expected version 9 but the product is at version 1"
        )
        exists = await mutate(http, other, CREATE, product_input(id=pid))
        assert code(exists) == "ALREADY_EXISTS"
    # ... and validation refuses with the same field on either instance, before any routing.
    for service in pair:
        bad = await mutate(
            http, service, CREATE, product_input(price={"amount": "1.999", "currency": "EUR"})
        )
        assert bad["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "price.amount"}
    records = await read_all(kafka_bootstrap, first.env["EVENTS_TOPIC"])
    assert sorted(r.headers["ce_id"] for r in records) == sorted(c["eventId"] for c in created)
    assert all(
        r.partition == c["position"]["partition"]
        for r in records
        for c in created
        if c["id"] == r.key
    )


async def test_fifty_concurrent_updates_through_both_instances_one_wins(
    pair: tuple[Service, Service], http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    first = pair[0]
    pid = (await mutate(http, first, CREATE, product_input()))["data"]["createProduct"]["id"]
    bodies = await asyncio.gather(
        *(
            mutate(
                http, pair[i % 2], UPDATE, {"id": pid, "name": f"Name {i}", "expectedVersion": 1}
            )
            for i in range(50)
        )
    )
    assert Counter(code(b) or "OK" for b in bodies) == {"OK": 1, "CONCURRENCY_CONFLICT": 49}
    records = await read_all(kafka_bootstrap, first.env["EVENTS_TOPIC"])
    assert [r.sequence for r in records] == [1, 2]


async def test_a_retried_create_without_id_lands_on_the_same_product_through_any_instance(
    pair: tuple[Service, Service], http: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    first = pair[0]
    answers = await asyncio.gather(
        *(
            mutate(http, pair[i % 2], CREATE, product_input(commandId="same-create"))
            for i in range(10)
        )
    )
    assert all(a == answers[0] for a in answers)
    assert answers[0]["data"]["createProduct"]["id"] == str(
        uuid.uuid5(PRODUCT_ID_NAMESPACE, "same-create")
    )
    records = await read_all(kafka_bootstrap, first.env["EVENTS_TOPIC"])
    assert len(records) == 1
