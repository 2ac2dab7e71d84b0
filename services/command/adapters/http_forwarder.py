"""Forwarding a command to its partition's owner over HTTP (aiohttp, one pooled session).

The request carries the current trace context in the configured propagators' headers
(`traceparent`, `tracestate`, `baggage`), so the owner's spans continue the caller's trace; with
tracing on, the hop is a CLIENT span of its own (semantic conventions' HTTP client span).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind, StatusCode

from services.command.forwarding import PATH, command_body, reply_from
from services.command.planning import IssuedCommand
from services.command.ports import OwnerMoved, OwnerUnreachable
from services.command.write_state import Answer
from shared.adapters.tracing import OFF, Tracing


class HttpForwarder:
    def __init__(self, traced: Tracing = OFF) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._traced = traced

    async def forward(
        self, owner: str, request: IssuedCommand, authorization: str | None, timeout_s: float
    ) -> Answer:
        headers = {"content-type": "application/json", "x-correlation-id": request.correlation_id}
        if authorization is not None:
            headers["authorization"] = authorization
        body = orjson.dumps(command_body(request.command))
        with self._span(owner + PATH) as span:
            propagate.inject(headers)
            status, payload = await self._post(owner, body, headers, timeout_s)
            if span is not None:
                span.set_attribute("http.response.status_code", status)
                if status >= 400:
                    span.set_status(StatusCode.ERROR)
        if status == 409:
            raise OwnerMoved(f"{owner} does not own the partition")
        if status != 200 or not isinstance(payload, dict):
            raise OwnerUnreachable(f"{owner} answered HTTP {status}", outcome_known=False)
        return reply_from(payload)

    def _span(self, url: str) -> AbstractContextManager[Span | None]:
        if not self._traced.recording:
            return nullcontext()
        parts = urlsplit(url)
        return self._traced.tracer.start_as_current_span(
            "POST",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "url.full": url,
                "server.address": parts.hostname or "",
                "server.port": parts.port or 80,
            },
        )

    async def _post(
        self, owner: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> tuple[int, Any]:
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
        return status, payload

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
