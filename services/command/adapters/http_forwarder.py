"""Forwarding a command to its partition's owner over HTTP (aiohttp, one pooled session)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from services.command.forwarding import PATH, command_body, reply_from
from services.command.planning import IssuedCommand
from services.command.ports import OwnerMoved, OwnerUnreachable
from services.command.write_state import Answer


class HttpForwarder:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def forward(
        self, owner: str, request: IssuedCommand, authorization: str | None, timeout_s: float
    ) -> Answer:
        headers = {"content-type": "application/json", "x-correlation-id": request.correlation_id}
        if authorization is not None:
            headers["authorization"] = authorization
        body = orjson.dumps(command_body(request.command))
        try:
            async with self._client().post(
                owner + PATH,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                status = response.status
                payload: Any = orjson.loads(await response.read())
        except aiohttp.ClientConnectorError as exc:  # not connected: the owner got nothing
            raise OwnerUnreachable(f"{owner}: {exc}", outcome_known=True) from exc
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise OwnerUnreachable(f"{owner}: {exc!r}", outcome_known=False) from exc
        if status == 409:
            raise OwnerMoved(f"{owner} does not own the partition")
        if status != 200 or not isinstance(payload, dict):
            raise OwnerUnreachable(f"{owner} answered HTTP {status}", outcome_known=False)
        return reply_from(payload)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300),
                json_serialize=lambda value: orjson.dumps(value).decode(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # let aiohttp close the connections it just released
