"""`productChanged` over graphql-transport-ws, against the app behind a real uvicorn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from services.projector.writer import ReadModelWriter
from services.query.change_feed import ChangeFeed
from tests.query.events import created, deleted, new_id, updated

SUBSCRIBE = """subscription($id: ID) { productChanged(id: $id) {
  id type version product { id name version price { amount currency } } } }"""


@pytest.fixture
async def ws(server: str) -> AsyncIterator[ClientConnection]:
    url = f"ws://{server}/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as conn:
        await conn.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await conn.recv()) == {"type": "connection_ack"}
        yield conn


async def subscribe(ws: ClientConnection, op: str, **variables: Any) -> None:
    await ws.send(
        json.dumps(
            {"id": op, "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": variables}}
        )
    )
    # The server handles a connection's messages in order, so once the ping after the subscribe
    # is answered, the subscription is in place: every later change must reach it.
    await ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await ws.recv()) == {"type": "pong"}


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
    return message


async def test_changes_of_one_product_arrive_in_order(
    ws: ClientConnection, writer: ReadModelWriter
) -> None:
    pid, other = new_id(), new_id()
    await subscribe(ws, "1", id=pid)
    await writer.apply([created(other)])
    await writer.apply([created(pid, "Mug", "9.99")])
    await writer.apply([updated(pid, 2, name="Jug")])
    await writer.apply([deleted(pid, 3)])
    changes = [await receive(ws) for _ in range(3)]
    assert [m["type"] for m in changes] == ["next"] * 3
    assert [m["payload"]["data"]["productChanged"] for m in changes] == [
        {
            "id": pid,
            "type": "CREATED",
            "version": 1,
            "product": {
                "id": pid,
                "name": "Mug",
                "version": 1,
                "price": {"amount": "9.99", "currency": "EUR"},
            },
        },
        {
            "id": pid,
            "type": "UPDATED",
            "version": 2,
            "product": {
                "id": pid,
                "name": "Jug",
                "version": 2,
                "price": {"amount": "9.99", "currency": "EUR"},
            },
        },
        {"id": pid, "type": "DELETED", "version": 3, "product": None},
    ]
    await ws.send(json.dumps({"id": "1", "type": "complete"}))


async def test_without_an_id_every_product_changes(
    ws: ClientConnection, writer: ReadModelWriter
) -> None:
    await subscribe(ws, "all")
    first, second = new_id(), new_id()
    await writer.apply([created(first), created(second)])
    seen = {(await receive(ws))["payload"]["data"]["productChanged"]["id"] for _ in range(2)}
    assert seen == {first, second}


async def test_a_batch_arrives_as_one_change_at_its_last_version(
    ws: ClientConnection, writer: ReadModelWriter
) -> None:
    pid = new_id()
    await subscribe(ws, "batch", id=pid)
    await writer.apply([created(pid), updated(pid, 2, name="Jug")])
    change = (await receive(ws))["payload"]["data"]["productChanged"]
    assert (change["type"], change["version"], change["product"]["name"]) == ("CREATED", 2, "Jug")


async def test_unsubscribing_stops_the_changes_and_leaves_the_feed(
    ws: ClientConnection, writer: ReadModelWriter, app: FastAPI
) -> None:
    feed: ChangeFeed = app.state.change_feed
    before = feed.listeners
    pid = new_id()
    await subscribe(ws, "a", id=pid)
    await subscribe(ws, "b", id=pid)
    assert feed.listeners == before + 2
    await ws.send(json.dumps({"id": "a", "type": "complete"}))
    await writer.apply([created(pid)])
    message = await receive(ws)
    assert message["id"] == "b"
    await ws.send(json.dumps({"type": "ping"}))
    assert await receive(ws) == {"type": "pong"}
    assert feed.listeners == before + 1
    await ws.close()
    for _ in range(50):
        if feed.listeners == before:
            break
        await asyncio.sleep(0.02)
    assert feed.listeners == before


async def test_queries_also_run_over_the_websocket(ws: ClientConnection) -> None:
    await ws.send(
        json.dumps(
            {"id": "q", "type": "subscribe", "payload": {"query": "{ categories { category } }"}}
        )
    )
    assert (await receive(ws))["type"] == "next"
    assert await receive(ws) == {"id": "q", "type": "complete"}


async def test_a_bad_subscription_is_an_error_message(ws: ClientConnection) -> None:
    await ws.send(
        json.dumps({"id": "x", "type": "subscribe", "payload": {"query": "subscription { nope }"}})
    )
    message = await receive(ws)
    assert message["type"] == "error" and message["id"] == "x"
    assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_subscribers_of_one_change_get_the_shape_each_asked_for(
    ws: ClientConnection, server: str, writer: ReadModelWriter
) -> None:
    """A change is executed once per distinct query and variables (shared_events.py): the same
    query with other variables, and another query, still get their own shapes."""
    pid = new_id()
    url = f"ws://{server}/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as other:
        await other.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await other.recv()) == {"type": "connection_ack"}
        narrow = "subscription { productChanged { version id } }"
        await other.send(
            json.dumps({"id": "narrow", "type": "subscribe", "payload": {"query": narrow}})
        )
        await subscribe(other, "same", id=pid)
        await subscribe(ws, "same", id=pid)
        await subscribe(ws, "every")
        await writer.apply([created(pid, name="Mug")])
        got: dict[str, list[dict[str, Any]]] = {"ws": [], "other": []}
        for name, conn in (("ws", ws), ("other", other)):
            while len(got[name]) < 2:
                message = await receive(conn)
                if message["payload"]["data"]["productChanged"]["id"] == pid:
                    got[name].append(message)
    by_op = {
        (name, m["id"]): m["payload"]["data"]["productChanged"] for name in got for m in got[name]
    }
    assert by_op[("other", "narrow")] == {"version": 1, "id": pid}
    full = by_op[("ws", "same")]
    assert (full["type"], full["product"]["name"]) == ("CREATED", "Mug")
    assert by_op[("ws", "every")] == full and by_op[("other", "same")] == full


async def test_what_is_left_to_ariadne_is_answered_as_ariadne_answers_it(
    ws: ClientConnection,
) -> None:
    """The handler runs subscriptions itself (websocket.py); a message that does not parse, and
    an operation id already in use, still get ariadne's answers."""
    await ws.send(
        json.dumps({"id": "p", "type": "subscribe", "payload": {"query": "subscription {"}})
    )
    message = await receive(ws)
    assert message["type"] == "error" and message["id"] == "p"
    assert "Syntax Error" in message["payload"][0]["message"]
    await subscribe(ws, "twice")
    await ws.send(json.dumps({"id": "twice", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409
