"""A graphql-transport-ws client of `productChanged` that records what it got and how it ended."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

ALL_CHANGES = "subscription { productChanged { id version } }"


@dataclass(frozen=True)
class Change:
    product_id: str
    version: int
    at: float  # time.monotonic() of arrival


@dataclass
class Subscriber:
    """Subscribes to every product's changes at `url` (a query service's ws://…/graphql)."""

    url: str
    changes: list[Change] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    # How the subscription ended: ("closed", close code or None if no close frame came, time),
    # or ("complete" / "error", payload, time) if the server ended the operation itself.
    ended: tuple[str, object, float] | None = None

    async def run(self) -> None:
        try:
            async with websockets.connect(
                self.url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                assert json.loads(await ws.recv()) == {"type": "connection_ack"}
                subscribe = {"id": "1", "type": "subscribe", "payload": {"query": ALL_CHANGES}}
                await ws.send(json.dumps(subscribe))
                # Messages are handled in order: once the ping is answered, the subscription is on.
                await ws.send(json.dumps({"type": "ping"}))
                async for raw in ws:
                    message = json.loads(raw)
                    kind = message["type"]
                    if kind == "pong":
                        self.subscribed.set()
                    elif kind == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
                    elif kind == "next":
                        got = message["payload"]["data"]["productChanged"]
                        self.changes.append(Change(got["id"], got["version"], time.monotonic()))
                    elif kind in ("error", "complete"):
                        self.ended = (kind, message.get("payload"), time.monotonic())
                        return
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            self.ended = ("closed", code, time.monotonic())
            return
        self.ended = ("closed", ws.close_code, time.monotonic())

    def versions(self) -> dict[str, list[int]]:
        """Per product, the versions in the order they arrived."""
        found: dict[str, list[int]] = {}
        for change in self.changes:
            found.setdefault(change.product_id, []).append(change.version)
        return found
