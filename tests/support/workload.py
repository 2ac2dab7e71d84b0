"""Load for the tests that break things underneath it: a burst of commands, and concurrent writers.

The writers behave like careful clients: every mutation carries its own `commandId`, every
outcome is kept (an answer, an error with its extensions, or no answer at all), so that after
the fault the log can be held against exactly what each client was told.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterable
from typing import Any

import httpx

from services.command.graphql import update_command
from shared.domain.commands import CreateProduct, DeleteProduct, parse
from tests.support.services import Service, graphql

UPDATE = "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { id version eventId } }"


def burst(products: int, events: int, seed: int = 1) -> list[Any]:
    """Commands whose accepted part makes roughly `events` events over `products` products."""
    rng = random.Random(seed)
    ids = [str(uuid.uuid4()) for _ in range(products)]
    commands: list[Any] = [
        parse(
            CreateProduct,
            {
                "id": pid,
                "sku": f"S{i}",
                "name": f"P{i}",
                "category": rng.choice(["a", "b", "c"]),
                "price": {
                    "amount": f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
                    "currency": "EUR",
                },
            },
        )
        for i, pid in enumerate(ids)
    ]
    for i in range(events - products):
        pid = rng.choice(ids)
        if rng.random() < 0.01:
            commands.append(parse(DeleteProduct, {"id": pid}))
        else:
            commands.append(
                update_command(
                    {
                        "id": pid,
                        "name": f"n{i}",
                        "category": rng.choice(["a", "b", "c", None]),
                        "price": {"amount": f"{rng.randint(1, 999)}.00", "currency": "EUR"},
                    }
                )
            )
    return commands


class WriteLoad:
    """`workers` concurrent clients renaming `product_ids`, each mutation sent once.

    Every name is new, so every mutation that is decided appends exactly one event. After an
    error or no answer a writer waits `backoff_s` and goes on with its next mutation; `retry`
    later resends the unacknowledged ones with their original `commandId`.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        command: Service | list[Service],
        product_ids: list[str],
        workers: int = 8,
        backoff_s: float = 0.2,
    ) -> None:
        self._http = http
        # Several instances: each mutation goes to the next one in turn, as a client spreading
        # its requests over a load balancer's targets would.
        self.targets = command if isinstance(command, list) else [command]
        self._ids = product_ids
        self._workers = workers
        self._backoff_s = backoff_s
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.inputs: dict[str, dict[str, Any]] = {}  # commandId -> the mutation's input
        self.acknowledged: dict[str, str] = {}  # commandId -> eventId of the answer
        self.acknowledged_at: dict[str, float] = {}  # commandId -> time.monotonic() of the answer
        self.failed: dict[str, dict[str, Any]] = {}  # commandId -> the error's extensions
        self.unanswered: dict[str, str] = {}  # commandId -> the transport error's name
        self.sent_to: dict[str, Service] = {}  # commandId -> the instance it was first sent to

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._writer(w)) for w in range(self._workers)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def wait_acknowledged(self, more: int, within_s: float) -> float:
        """Until `more` further mutations were acknowledged; the seconds that took."""
        started = time.monotonic()
        target = len(self.acknowledged) + more
        while len(self.acknowledged) < target:
            if time.monotonic() - started > within_s:
                raise AssertionError(
                    f"only {len(self.acknowledged)} of {target} mutations acknowledged after "
                    f"{within_s}s; {len(self.failed)} failed, {len(self.unanswered)} unanswered"
                )
            if any(task.done() for task in self._tasks):
                await asyncio.gather(*self._tasks)  # a writer died: raise its error here
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def _writer(self, worker: int) -> None:
        i = 0
        while not self._stop.is_set():
            command_id = f"w{worker}-{i}"
            pid = self._ids[(worker + i) % len(self._ids)]
            self.inputs[command_id] = {"id": pid, "name": f"{worker}-{i}", "commandId": command_id}
            target = self.targets[(worker + i) % len(self.targets)]
            self.sent_to[command_id] = target
            try:
                body = await self._send(command_id, target)
            except httpx.TransportError as exc:  # the process is gone or not listening yet
                self.unanswered[command_id] = type(exc).__name__
                await asyncio.sleep(self._backoff_s)
            else:
                if "errors" in body:
                    self.failed[command_id] = body["errors"][0]["extensions"]
                    await asyncio.sleep(self._backoff_s)
                else:
                    self.acknowledged[command_id] = body["data"]["updateProduct"]["eventId"]
                    self.acknowledged_at[command_id] = time.monotonic()
            i += 1

    async def _send(self, command_id: str, target: Service) -> dict[str, Any]:
        return await graphql(self._http, target.graphql_url, UPDATE, {"i": self.inputs[command_id]})

    async def retry(
        self, command_ids: Iterable[str], within_s: float = 60, via: Service | None = None
    ) -> dict[str, Any]:
        """Resend each mutation with its original `commandId` until it is answered; the answers.

        Only SERVICE_UNAVAILABLE, which says retrying is safe, and no answer at all are retried;
        any other error is an answer and is returned as the error's extensions. `via`: the
        instance to resend through (default: the first target).
        """
        target = via or self.targets[0]
        deadline = time.monotonic() + within_s
        limit = asyncio.Semaphore(16)

        async def until_answered(command_id: str) -> tuple[str, Any]:
            async with limit:
                while True:
                    try:
                        body = await self._send(command_id, target)
                    except httpx.TransportError:
                        body = {"errors": [{"extensions": {"code": "SERVICE_UNAVAILABLE"}}]}
                    if "errors" not in body:
                        return command_id, body["data"]["updateProduct"]
                    extensions = body["errors"][0]["extensions"]
                    if extensions["code"] != "SERVICE_UNAVAILABLE":
                        return command_id, extensions
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{command_id} still unanswered after {within_s}s")
                    await asyncio.sleep(0.2)

        return dict(await asyncio.gather(*(until_answered(cid) for cid in command_ids)))
