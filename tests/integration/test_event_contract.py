"""What the command service writes to real Kafka follows schema/asyncapi.yaml and schema/events/.

Drives the service (a real process) through every kind of event and every optional field — set,
changed and cleared — then reads the topic as an outside consumer would and checks each record
against the documents alone: its `ce_type` picks the message, whose headers schema validates
the headers and whose payload schema validates the value.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from shared.domain.events import EVENT_TYPES, ProductUpdated
from shared.envelope import ce_type, new_envelope, to_record
from tests.support.contract import check_record, documented_headers, topic_problems
from tests.support.kafka import read_all
from tests.support.producing import produce
from tests.support.services import Service, graphql

CREATE = """mutation($input: CreateProductInput!) { createProduct(input: $input) { id version } }"""
UPDATE = """mutation($input: UpdateProductInput!) { updateProduct(input: $input) { id version } }"""
DELETE = """mutation($input: DeleteProductInput!) { deleteProduct(input: $input) { id version } }"""


@pytest.fixture
def command(isolated_env: dict[str, str]) -> Iterator[Service]:
    service = Service("command", isolated_env).start()
    yield service
    service.stop()


async def mutate(
    http: httpx.AsyncClient, service: Service, query: str, input: dict[str, Any]
) -> dict[str, Any]:
    body = await graphql(http, service.graphql_url, query, {"input": input})
    assert "errors" not in body, body
    answer: dict[str, Any] = next(iter(body["data"].values()))
    return answer


async def test_every_record_the_command_service_writes_follows_the_published_contract(
    command: Service, kafka_bootstrap: str
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        full = await mutate(
            http,
            command,
            CREATE,
            {
                "sku": "TEA-POT_1",
                "name": "Teapot ☕",
                "description": "Cast iron, 1.2 l.",
                "price": {"amount": "1200", "currency": "JPY"},
                "category": "tea",
                "tags": ["iron", "tea"],
                "brand": "Iwachu",
                "commandId": "create-teapot",
            },
        )
        pid = full["id"]
        bare = await mutate(
            http,
            command,
            CREATE,
            {"sku": "MUG-1", "name": "Mug", "price": {"amount": "9.99", "currency": "EUR"}},
        )
        changes: list[dict[str, Any]] = [
            {"name": "Teapot"},
            {"description": "Enamelled inside."},
            {"price": {"amount": "1500", "currency": "JPY"}},
            {"price": {"amount": "12.345", "currency": "BHD"}},
            {"category": "kitchen", "tags": ["iron"], "brand": "Nanbu"},
            {"description": None, "category": None, "tags": None, "brand": None},
        ]
        for change in changes:
            await mutate(http, command, UPDATE, {"id": pid, **change})
        await mutate(http, command, UPDATE, {"id": bare["id"], "brand": "Acme"})
        await mutate(http, command, DELETE, {"id": pid, "expectedVersion": 1 + len(changes)})

    records = await read_all(kafka_bootstrap, command.env["EVENTS_TOPIC"])
    assert len(records) == 2 + len(changes) + 2
    for record in records:
        check_record(record.key, record.value, record.headers)
        assert set(record.headers) <= documented_headers(), record.headers
    # Every type, each in the version the code writes today.
    assert {r.headers["ce_type"] for r in records} == {ce_type(c) for c in EVENT_TYPES.values()}
    updated_fields = {
        field
        for r in records
        if r.headers["ce_type"].startswith("catalog.ProductUpdated.")
        for field in orjson.loads(r.value)
    }
    assert updated_fields == set(EVENT_TYPES["ProductUpdated"].model_fields) | {"id"}
    assert any(orjson.loads(r.value).get("brand") == "Iwachu" for r in records)


async def test_the_check_over_the_whole_run_finds_an_event_that_breaks_the_contract(
    kafka_bootstrap: str,
) -> None:
    """conftest's `contract_checked_topics` runs `topic_problems` over every test topic at the
    end of the run; here it meets a record the code reads but the contract forbids."""
    topic = f"contract-probe-{uuid.uuid4().hex[:10]}"  # not a test topic: checked only here
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "EVENTS_TOPIC": topic}
    event = ProductUpdated(id=str(uuid.uuid4()), name="Cup")
    key, value, headers = to_record(new_envelope(event, 2, "cmd", "corr"))
    no_causation = [(name, raw) for name, raw in headers if name != "ce_causationid"]
    await produce(env, [], raw=[(key, value, headers), (key, value, no_causation)])
    await produce(env, [], raw=[(key, b"{not json", headers)])  # refused by the code: skipped
    checked, problems = await topic_problems(kafka_bootstrap, [topic])
    assert (
        checked == 2
        and len(problems) == 1
        and "'ce_causationid' is a required property" in problems[0]
    )
