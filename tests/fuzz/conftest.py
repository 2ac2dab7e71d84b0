"""The fuzzed stack: command service, projector and query service as real processes.

One stack per test module, started by the module's first test with that test's `isolated_env`
(its own topic, database, consumer group and transactional id) and kept for the module's other
tests, so the fuzz runs against a catalog that earlier cases have changed. Before anything is
fuzzed, the catalog is seeded (tests.fuzz.strategies.SEED_PRODUCTS) and projected, so generated
queries hit real products.

Requests go through `tests.support.services.graphql()` where they can; the hostile cases need raw
bodies and headers, and every raw request takes its headers from `request_headers()`, the one
place that knows what a request must carry (content type and bearer token).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import currently_in_test_context, event

from tests.fuzz.checks import (
    CORRELATION_HEADER,
    Ledger,
    check_graphql_response,
    check_mutation_answers,
)
from tests.fuzz.strategies import EVENT_ID_KEY, SEED_DELETES, SEED_PRODUCTS, SEED_UPDATES
from tests.support import auth
from tests.support.kafka import Record
from tests.support.services import Service, graphql

# minVersion waits are bounded by this; the fuzz asks for versions that never come, often.
MIN_VERSION_TIMEOUT_S = "0.3"

SEED_CREATE = f"mutation($i: CreateProductInput!) {{ createProduct(input: $i) {{ {EVENT_ID_KEY}: eventId }} }}"
SEED_UPDATE = f"mutation($i: UpdateProductInput!) {{ updateProduct(input: $i) {{ {EVENT_ID_KEY}: eventId }} }}"
SEED_DELETE = f"mutation($i: DeleteProductInput!) {{ deleteProduct(input: $i) {{ {EVENT_ID_KEY}: eventId }} }}"
PROJECTED = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { version } }"


def request_headers(content_type: str | None = "application/json") -> dict[str, str]:
    """Headers of every raw request the fuzz sends (graphql() sets its own): the test user's
    bearer token, so that the command service looks past authentication at the body."""
    headers = auth.headers()
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


@dataclass
class FuzzStack:
    command: Service
    projector: Service
    query: Service
    env: dict[str, str]
    ledger: Ledger

    @property
    def services(self) -> tuple[Service, Service, Service]:
        return self.command, self.projector, self.query

    def assert_alive(self) -> None:
        for service in self.services:
            assert service.process is not None and service.process.poll() is None, (
                f"{service.name} died:\n{service.tail()}"
            )

    async def assert_survived(self, http: httpx.AsyncClient) -> list[Record]:
        """Every service ready after the module's cases, and the topic holding exactly what the
        successful mutations reported (the ledger); the whole topic, for further checks."""
        for service in self.services:
            ready = await http.get(f"{service.url}/ready")
            assert ready.status_code == 200, f"{service.name}: {ready.text}\n{service.tail()}"
        return await self.ledger.check_whole_topic()

    async def read(
        self, http: httpx.AsyncClient, document: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A GraphQL request to the query service, checked."""
        body = await graphql(http, self.query.graphql_url, document, variables)
        _note_outcome(check_graphql_response(body, "query"), body)
        self.assert_alive()
        return body

    async def mutate(
        self, http: httpx.AsyncClient, document: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A GraphQL request to the command service, checked and accounted in the ledger."""
        correlation_id = self.ledger.correlation_id()
        http.headers[CORRELATION_HEADER] = correlation_id
        try:
            body = await graphql(http, self.command.graphql_url, document, variables)
        finally:
            del http.headers[CORRELATION_HEADER]
        _note_outcome(check_graphql_response(body, "command"), body)
        check_mutation_answers(body)
        appended = await self.ledger.settle(correlation_id, body)
        if appended and currently_in_test_context():
            event(f"mutations reported {min(len(appended), 3)}+ events")
        self.assert_alive()
        return body

    async def post_raw(
        self,
        http: httpx.AsyncClient,
        service: Service,
        content: bytes,
        content_type: str | None = "application/json",
    ) -> httpx.Response:
        """A raw POST to a service's /graphql; to the command service, accounted in the ledger."""
        return await self._raw(http, "POST", service, content_type, content=content)

    async def get_raw(
        self, http: httpx.AsyncClient, service: Service, params: dict[str, str]
    ) -> httpx.Response:
        """A GET of a service's /graphql; to the command service, accounted in the ledger."""
        return await self._raw(http, "GET", service, None, params=params)

    async def _raw(
        self,
        http: httpx.AsyncClient,
        method: str,
        service: Service,
        content_type: str | None,
        **request: Any,
    ) -> httpx.Response:
        headers = request_headers(content_type)
        correlation_id = self.ledger.correlation_id()
        headers[CORRELATION_HEADER] = correlation_id
        response = await http.request(method, service.graphql_url, headers=headers, **request)
        if service is self.command:
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            await self.ledger.settle(correlation_id, body)
        self.assert_alive()
        return response


def _note_outcome(errors: list[dict[str, Any]], body: dict[str, Any]) -> None:
    """For `--hypothesis-show-statistics`: how often cases got data, and which errors."""
    if not currently_in_test_context():
        return
    if not errors:
        event("data, no errors")
    for code in sorted({e["extensions"]["code"] for e in errors}):
        event(f"error {code}" + (" (with data)" if body.get("data") else ""))


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
async def _module_stack() -> AsyncIterator[list[FuzzStack]]:
    """Holds the module's stack once its first test started it; stops it after the module."""
    holder: list[FuzzStack] = []
    yield holder
    for stack in holder:
        await stack.ledger.stop()
        for service in stack.services:
            service.stop()


@pytest.fixture
async def stack(
    _module_stack: list[FuzzStack], isolated_env: dict[str, str], http: httpx.AsyncClient
) -> AsyncIterator[FuzzStack]:
    if not _module_stack:
        _module_stack.append(await _start(isolated_env, http))
    yield _module_stack[0]


async def _start(isolated_env: dict[str, str], http: httpx.AsyncClient) -> FuzzStack:
    env = {**isolated_env, "MIN_VERSION_TIMEOUT_S": MIN_VERSION_TIMEOUT_S}
    command, projector, query = services = [
        Service(name, env) for name in ("command", "projector", "query")
    ]
    ledger: Ledger | None = None
    try:
        for service in services:
            service.start(wait_ready=False)
        for service in services:
            service.wait_ready()
        ledger = Ledger(env["KAFKA_BOOTSTRAP_SERVERS"], env["EVENTS_TOPIC"])
        await ledger.start()
        stack = FuzzStack(command, projector, query, env=env, ledger=ledger)
        await _seed(stack, http)
    except BaseException:
        if ledger is not None:
            await ledger.stop()
        for service in services:
            service.kill()
        raise
    return stack


async def _seed(stack: FuzzStack, http: httpx.AsyncClient) -> None:
    """Create, update and delete the seed products, then wait until the projector applied all."""
    versions: dict[str, int] = {}
    for document, inputs in (
        (SEED_CREATE, SEED_PRODUCTS),
        (SEED_UPDATE, SEED_UPDATES),
        (SEED_DELETE, SEED_DELETES),
    ):
        for seed in inputs:
            body = await stack.mutate(http, document, {"i": seed})
            assert "errors" not in body, body
            versions[seed["id"]] = versions.get(seed["id"], 0) + 1
    deadline = time.monotonic() + 60
    for product_id, version in versions.items():
        while True:
            body = await graphql(
                http, stack.query.graphql_url, PROJECTED, {"id": product_id, "v": version}
            )
            if "errors" not in body:
                break
            assert time.monotonic() < deadline, f"seeds not projected: {body}"
