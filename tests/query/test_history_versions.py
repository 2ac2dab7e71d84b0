"""History documents stored before schema version 2 existed still read as version 2.

A `product_history` written by the v1 projector has v1 data and no `schemaVersion`. Nobody has
to rebuild it for the query service to answer in today's shape: `productHistory` upcasts the
data and `productAt` folds it through the same upcasters as the projector.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.writer import ReadModelWriter
from tests.query.client import Document, data
from tests.query.events import created, new_id, updated
from tests.support.contract import payload_validator

T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
HISTORY = "query($id: ID!) { productHistory(id: $id) { type version data } }"
AT = """query($id: ID!, $at: DateTime!) { productAt(id: $id, at: $at) {
  name category brand version } }"""


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_v1_history_documents_read_as_v2(
    http: httpx.AsyncClient, db: AsyncDatabase[Document], writer: ReadModelWriter
) -> None:
    pid = new_id()
    await db.product_history.insert_many(
        [
            {  # exactly what the v1 projector stored: v1 data, no schemaVersion
                "_id": new_id(),
                "productId": pid,
                "type": "ProductCreated",
                "version": 1,
                "occurredAt": T0,
                "data": {
                    "id": pid,
                    "sku": "MUG-1",
                    "name": "Mug",
                    "description": None,
                    "price": {"currency": "EUR", "amount": "9.99"},
                    "category": "kitchen",
                    "tags": [],
                },
            },
            {
                "_id": new_id(),
                "productId": pid,
                "type": "ProductUpdated",
                "version": 2,
                "occurredAt": T0 + timedelta(minutes=10),
                "data": {"id": pid, "name": "Cup", "category": None},
            },
        ]
    )
    history = (await data(http, HISTORY, id=pid))["productHistory"]
    assert [h["data"].get("brand", "absent") for h in history] == [None, "absent"]
    for entry, version in zip(history, (2, 2), strict=True):
        payload_validator(entry["type"], version).validate(entry["data"])
    early = (await data(http, AT, id=pid, at=iso(T0 + timedelta(minutes=5))))["productAt"]
    assert early == {"name": "Mug", "category": "kitchen", "brand": None, "version": 1}
    later = (await data(http, AT, id=pid, at=iso(T0 + timedelta(minutes=15))))["productAt"]
    assert later == {"name": "Cup", "category": None, "brand": None, "version": 2}


async def test_history_written_now_records_its_schema_version(
    http: httpx.AsyncClient, db: AsyncDatabase[Document], writer: ReadModelWriter
) -> None:
    pid = new_id()
    await writer.apply(
        [
            created(pid, brand="Acme", time=T0),
            updated(pid, 2, T0 + timedelta(minutes=1), brand=None),
        ]
    )
    stored = [d async for d in db.product_history.find({"productId": pid}).sort("version", 1)]
    assert [(d["schemaVersion"], d["data"]["brand"]) for d in stored] == [(2, "Acme"), (2, None)]
    at = iso(T0 + timedelta(seconds=30))
    assert (await data(http, AT, id=pid, at=at))["productAt"]["brand"] == "Acme"
    assert (await data(http, AT, id=pid, at=iso(T0 + timedelta(minutes=2))))["productAt"][
        "brand"
    ] is None
