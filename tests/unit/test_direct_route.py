"""The GraphQL endpoint's route taken before FastAPI's stack (shared/adapters/http.ServiceApp):
it keeps the user middleware (correlation ids, the edge's guards) and leaves every other
request to FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from shared.adapters.http import CORRELATION_HEADER, guard_edge, service_app
from shared.settings import HttpSettings


class Endpoint:
    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"echo:" + body})


async def ready() -> dict[str, bool]:
    return {"always": True}


@pytest.fixture
async def served() -> AsyncIterator[tuple[httpx.AsyncClient, Endpoint]]:
    app = service_app("direct route test", ready)
    guard_edge(app, HttpSettings(max_request_bytes=64))
    endpoint = Endpoint()
    app.direct_route = ("/graphql", endpoint)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client, endpoint


async def test_the_endpoint_is_reached_without_fastapis_router_but_behind_the_middleware(
    served: tuple[httpx.AsyncClient, Endpoint],
) -> None:
    client, endpoint = served
    answer = await client.post("/graphql", content=b"hello", headers={CORRELATION_HEADER: "c-1"})
    assert answer.status_code == 200 and answer.content == b"echo:hello"
    assert answer.headers[CORRELATION_HEADER] == "c-1"  # CorrelationIdMiddleware ran
    assert len(endpoint.scopes) == 1 and "router" not in endpoint.scopes[0]  # no Router passed
    too_large = await client.post("/graphql", content=b"x" * 65)
    assert too_large.status_code == 413  # the edge's body limit guards it too
    assert too_large.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert len(endpoint.scopes) == 1  # refused before the endpoint read the body's end


async def test_every_other_path_is_fastapis(served: tuple[httpx.AsyncClient, Endpoint]) -> None:
    client, endpoint = served
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).status_code == 200
    assert (await client.post("/graphql/")).status_code == 404
    assert (await client.get("/graphqlx")).status_code == 404
    assert endpoint.scopes == []


async def test_a_tracing_process_keeps_the_path_a_route_of_fastapis_router() -> None:
    """FastAPI's telemetry names the server span after the route its router matched."""
    app = service_app("direct route test", ready)
    app.tracing = True
    endpoint = Endpoint()
    app.router.routes.insert(0, Route("/graphql", endpoint, methods=["POST"]))
    app.direct_route = ("/graphql", endpoint)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        answer = await client.post("/graphql", content=b"hello")
    assert answer.content == b"echo:hello" and CORRELATION_HEADER in answer.headers
    assert len(endpoint.scopes) == 1 and "router" in endpoint.scopes[0]
