"""A log that mixes v1 and v2 events, on real Kafka and MongoDB, with the services as processes.

The v1 records are built by hand as the first version of the catalog wrote them (no `brand`,
`ce_type` …`.v1`); v2 records follow for some of the same products, as after an upgrade. Then:

- the command service folds that log (versions, deletions, command ids all right) and writes
  only v2 from then on;
- the projector folds the whole topic into every read model, equal to the domain's own fold of
  the upcast events, and the query service answers in today's shape, time travel included.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from shared.domain.decider import State
from shared.domain.events import ProductCreated, ProductUpdated
from shared.envelope import new_envelope, to_record
from tests.support.contract import check_record
from tests.support.kafka import Record, fold, read_all
from tests.support.legacy import Record as RawRecord
from tests.support.legacy import created_v1, deleted_v1, updated_v1
from tests.support.producing import produce
from tests.support.read_models import (
    actual_product,
    actual_stats,
    expected_product,
    expected_stats,
    rounded,
    wait_for_versions,
)
from tests.support.services import Service, graphql

UPDATE = """mutation($input: UpdateProductInput!) {
  updateProduct(input: $input) { id version eventId } }"""
CREATE = """mutation($input: CreateProductInput!) {
  createProduct(input: $input) { id version eventId } }"""
PRODUCT = """query($id: ID!, $min: Int) { product(id: $id, minVersion: $min) {
  name category tags brand price { amount currency } version } }"""
HISTORY = "query($id: ID!) { productHistory(id: $id) { type version data } }"
AT = "query($id: ID!, $at: DateTime!) { productAt(id: $id, at: $at) { name brand version } }"

A, B, C, D = (str(uuid.uuid4()) for _ in range(4))
T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)  # the v1 era


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def v2(event: ProductCreated | ProductUpdated, sequence: int, at: datetime) -> RawRecord:
    envelope = new_envelope(event, sequence, str(uuid.uuid4()), "upgraded")
    return to_record(replace(envelope, time=at))


def mixed_log() -> list[RawRecord]:
    """Per product, oldest first: v1 as the old producer wrote it, then v2 as today's does."""
    plate = ProductCreated(
        id=D,
        sku="PLATE-1",
        name="Plate",
        price={"amount": "5.00", "currency": "EUR"},
        category="kitchen",
        brand="Globex",
    )
    return [
        # A: created, renamed and uncategorized under v1; branded under v2.
        created_v1(A, "MUG-1", "Mug", "9.90", category="kitchen", tags=("ceramic",), time=day(0)),
        updated_v1(A, 2, time=day(1), name="Big mug", price={"currency": "EUR", "amount": "11.00"}),
        updated_v1(A, 3, time=day(2), category=None),
        v2(ProductUpdated(id=A, brand="Acme"), 4, day(30)),
        # B: created and deleted under v1.
        created_v1(B, "CUP-1", "Cup", "4.50", category="kitchen", time=day(0)),
        deleted_v1(B, 2, time=day(3)),
        # C: created under v1 by a command the client may still retry.
        created_v1(C, "BOWL-1", "Bowl", "7.00", category="kitchen", command_id="old-bowl"),
        # D: born under v2, with a brand, then repriced.
        v2(plate, 1, day(31)),
        v2(ProductUpdated(id=D, price={"amount": "6.00", "currency": "EUR"}), 2, day(32)),
    ]


def fold_topic(records: list[Record]) -> tuple[dict[str, State], int]:
    """The domain's own fold of the topic, and how many records it held."""
    return fold(records), len(records)


async def call(http: httpx.AsyncClient, service: Service, query: str, **variables: Any) -> Any:
    return await graphql(http, service.graphql_url, query, variables)


async def test_a_log_mixing_v1_and_v2_folds_right_on_the_write_side_and_in_every_read_model(
    isolated_env: dict[str, str], db: AsyncDatabase[dict[str, Any]], kafka_bootstrap: str
) -> None:
    await produce(isolated_env, [], raw=mixed_log())
    topic = isolated_env["EVENTS_TOPIC"]
    old_records = await read_all(kafka_bootstrap, topic)
    assert len(old_records) == 9
    for record in old_records:  # the hand-built v1 records are what the v1 schemas describe
        check_record(record.key, record.value, record.headers)
    [old_bowl] = [r for r in old_records if r.key == C]

    services = [Service(name, isolated_env) for name in ("command", "projector", "query")]
    command, projector, query = services
    try:
        command.start()
        async with httpx.AsyncClient(timeout=30) as http:
            # The write side folded v1 and v2 alike: versions, deletions, command ids.
            body = await call(
                http, command, UPDATE, input={"id": A, "expectedVersion": 4, "tags": []}
            )
            assert body["data"]["updateProduct"]["version"] == 5, body
            stale = await call(
                http, command, UPDATE, input={"id": A, "expectedVersion": 3, "name": "x"}
            )
            assert stale["errors"][0]["extensions"] == {
                "code": "CONCURRENCY_CONFLICT",
                "expectedVersion": 3,
                "actualVersion": 5,
            }
            gone = await call(http, command, UPDATE, input={"id": B, "name": "x"})
            assert gone["errors"][0]["extensions"]["code"] == "PRODUCT_DELETED"
            retry = await call(
                http,
                command,
                CREATE,
                input={
                    "id": C,
                    "sku": "BOWL-1",
                    "name": "Bowl",
                    "price": {"amount": "7.00", "currency": "EUR"},
                    "commandId": "old-bowl",
                },
            )
            assert retry["data"]["createProduct"] == {
                "id": C,
                "version": 1,
                "eventId": old_bowl.headers["ce_id"],
            }
            again = await call(
                http,
                command,
                CREATE,
                input={
                    "id": C,
                    "sku": "B",
                    "name": "B",
                    "price": {"amount": "1", "currency": "EUR"},
                },
            )
            assert again["errors"][0]["extensions"]["code"] == "ALREADY_EXISTS"
            branded = await call(
                http, command, UPDATE, input={"id": C, "expectedVersion": 1, "brand": "Initech"}
            )
            assert branded["data"]["updateProduct"]["version"] == 2
            # An unchanged brand is no change: v1's implicit null equals an explicit one.
            same = await call(http, command, UPDATE, input={"id": A, "name": "Big mug"})
            assert same["data"]["updateProduct"] == {"id": A, "version": 5, "eventId": None}

            records = await read_all(kafka_bootstrap, topic)
            seen = {(r.partition, r.offset) for r in old_records}
            new = [r for r in records if (r.partition, r.offset) not in seen]
            assert sorted(r.headers["ce_type"] for r in new) == [
                "catalog.ProductUpdated.v2",
                "catalog.ProductUpdated.v2",
            ]
            for record in records:
                check_record(record.key, record.value, record.headers)

            # The read side: every read model equals the fold of the whole mixed topic.
            states, event_count = fold_topic(records)
            projector.start()
            query.start()
            await wait_for_versions(db, {pid: s.version for pid, s in states.items() if s})
            docs = {d["_id"]: actual_product(d) async for d in db.products.find()}
            assert docs == {pid: expected_product(s) for pid, s in states.items() if s}
            assert await db.product_history.count_documents({}) == event_count
            assert await db.product_history.count_documents({"schemaVersion": {"$ne": 2}}) == 1
            stats = [d async for d in db.category_stats.find()]
            assert actual_stats(stats) == rounded(expected_stats([s for s in states.values() if s]))

            a = (await call(http, query, PRODUCT, id=A, min=5))["data"]["product"]
            assert a == {
                "name": "Big mug",
                "category": None,
                "tags": [],
                "brand": "Acme",
                "price": {"amount": "11.00", "currency": "EUR"},
                "version": 5,
            }
            c = (await call(http, query, PRODUCT, id=C, min=2))["data"]["product"]
            assert (c["brand"], c["version"]) == ("Initech", 2)
            assert (await call(http, query, PRODUCT, id=B))["data"]["product"] is None
            history = (await call(http, query, HISTORY, id=A))["data"]["productHistory"]
            assert [(h["type"], h["version"]) for h in history] == [
                ("ProductCreated", 1),
                ("ProductUpdated", 2),
                ("ProductUpdated", 3),
                ("ProductUpdated", 4),
                ("ProductUpdated", 5),
            ]
            assert history[0]["data"]["brand"] is None  # a v1 creation, shown upcast
            assert history[3]["data"] == {"id": A, "brand": "Acme"}
            before_brand = day(10).isoformat()
            at = (await call(http, query, AT, id=A, at=before_brand))["data"]["productAt"]
            assert at == {"name": "Big mug", "brand": None, "version": 3}
            branded_at = day(30).isoformat()
            at = (await call(http, query, AT, id=A, at=branded_at))["data"]["productAt"]
            assert at == {"name": "Big mug", "brand": "Acme", "version": 4}
    finally:
        for service in services:
            service.stop()
