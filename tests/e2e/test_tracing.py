"""One trace from request to read model (shared/adapters/tracing.py), with the services as real
processes configured the way an operator would: OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP
receiver inside the test (tests/support/otlp.py), which gets what the SDK's own OTLP exporter
sends. Two command instances, so that a mutation can be forwarded to its partition's owner.

And, on the stack of tests/e2e/conftest.py, where tracing is off as by default: a caller's own
`traceparent` still reaches the event unchanged, and a request without one writes none.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.conftest import Stack
from tests.support import auth
from tests.support.infra import Infra
from tests.support.kafka import Record, read_all
from tests.support.otlp import Receiver, Span, receiving
from tests.support.services import Service, graphql, id_in, ownership, wait_until_shared

CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id version eventId } }"
SUBSCRIBE = "subscription($id: ID) { productChanged(id: $id) { id type version } }"


@dataclass
class TracedStack:
    commands: list[Service]
    projector: Service
    query: Service
    receiver: Receiver
    env: dict[str, str]

    @property
    def topic(self) -> str:
        return self.env["EVENTS_TOPIC"]


@pytest.fixture(scope="module")
def traced(infra: Infra, contract_checked_topics: list[str]) -> Iterator[TracedStack]:
    run = uuid.uuid4().hex[:10]
    contract_checked_topics.append(f"traced-events-{run}")
    with receiving() as receiver:
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "MONGODB_URL": infra.mongodb_url,
            "MONGODB_DATABASE": f"traced_{run}",
            "EVENTS_TOPIC": f"traced-events-{run}",
            "COMMAND_GROUP_ID": f"traced-command-{run}",
            "PROJECTOR_GROUP_ID": f"traced-projector-{run}",
            "PROJECTOR_INSTANCE_ID": f"traced-projector-{run}",
            # What turns tracing on, and nothing else about it is set: the defaults are used.
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            # Only so that the test need not wait the default 5 s for each export.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        services = [
            Service("command", env),
            Service("command", env),
            Service("projector", env),
            Service("query", env),
        ]
        try:
            for service in services:
                service.start()
            wait_until_shared(*services[:2])
            yield TracedStack(services[:2], services[2], services[3], receiver, env)
        finally:
            for service in services:
                service.stop()


def owned_by(command: Service) -> str:
    """A new product id whose partition `command` owns."""
    owned = [int(p) for p, phase in ownership(command)["owned"].items() if phase == "ready"]
    return id_in(owned[0])


def new_traceparent() -> tuple[str, str, str]:
    """(traceparent, trace id, span id) of a sampled span of a traced caller."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


async def create(command: Service, pid: str, headers: dict[str, str] | None = None) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        body = await graphql(
            http,
            command.graphql_url,
            CREATE,
            {
                "i": {
                    "id": pid,
                    "sku": "S",
                    "name": "N",
                    "price": {"amount": "1.00", "currency": "EUR"},
                }
            },
            headers={**auth.headers(), **(headers or {})},
        )
    assert body["data"]["createProduct"]["version"] == 1, body


async def event_of(bootstrap: str, topic: str, pid: str) -> Record:
    (record,) = [r for r in await read_all(bootstrap, topic) if r.key == pid]
    return record


async def all_exported(receiver: Receiver, trace_id: str, *expected: tuple[str, str]) -> list[Span]:
    """The spans of the trace, once it has (at least) the `expected` (service, kind)s, each as
    many times as listed."""

    def complete() -> list[Span] | None:
        found = receiver.in_trace(trace_id)
        have = Counter((s.service, s.kind) for s in found)
        return found if not Counter(expected) - have else None

    spans: list[Span] = await receiver.wait_for(complete)
    return spans


def one(spans: list[Span], **match: Any) -> Span:
    """The one span with these fields (and `path`: its url.path)."""
    path = match.pop("path", None)
    found = [
        s
        for s in spans
        if all(getattr(s, k) == v for k, v in match.items())
        and (path is None or s.attributes.get("url.path") == path)
    ]
    assert len(found) == 1, (match, path, spans)
    return found[0]


def child_of(spans: list[Span], parent: Span | str, **match: Any) -> Span:
    """The one child of `parent` (a span, or a span id) with these fields."""
    parent_id = parent if isinstance(parent, str) else parent.span_id
    return one(spans, parent_span_id=parent_id, **match)


@pytest.fixture
async def subscribed(traced: TracedStack) -> AsyncIterator[tuple[str, asyncio.Task[Any]]]:
    """A product id, with a client subscribed to its changes (the task ends at its first)."""
    pid = owned_by(traced.commands[0])
    transport = WebsocketsTransport(
        url=traced.query.graphql_url.replace("http://", "ws://"),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    ready = asyncio.Event()

    async def first_change() -> Any:
        async with Client(transport=transport) as session:
            stream = session.subscribe(GraphQLRequest(SUBSCRIBE, variable_values={"id": pid}))
            ready.set()
            async for change in stream:
                return change["productChanged"]

    task = asyncio.create_task(first_change())
    await ready.wait()
    await asyncio.sleep(0.5)  # let the server register the subscription before the change
    yield pid, task
    task.cancel()


async def test_one_mutation_is_one_trace_from_the_request_to_the_subscription_push(
    traced: TracedStack, infra: Infra, subscribed: tuple[str, asyncio.Task[Any]]
) -> None:
    pid, first_change = subscribed
    traceparent, trace_id, caller_span = new_traceparent()
    await create(
        traced.commands[0], pid, {"traceparent": traceparent, "tracestate": "vendor=opaque"}
    )
    assert (await asyncio.wait_for(first_change, 15))["version"] == 1

    # Each process exports its spans in its own batches, in no order across processes: wait for
    # every span the trace should have, not only for the last one to happen.
    spans = await all_exported(
        traced.receiver,
        trace_id,
        ("catalog-command", "SERVER"),
        ("catalog-command", "PRODUCER"),
        ("catalog-projector", "CONSUMER"),
        ("catalog-projector", "CLIENT"),
        ("catalog-query", "PRODUCER"),
    )
    topic = traced.topic
    server = child_of(spans, caller_span, service="catalog-command", kind="SERVER", path="/graphql")
    sent = child_of(spans, server, kind="PRODUCER", name=f"send {topic}")
    process = child_of(spans, sent, service="catalog-projector", kind="CONSUMER")
    database = traced.env["MONGODB_DATABASE"]
    write = child_of(spans, process, kind="CLIENT", name=f"transaction {database}")
    push = child_of(spans, write, service="catalog-query", kind="PRODUCER")
    assert process.name == f"process {topic}" and push.name == "push productChanged"
    assert sent.attributes["messaging.kafka.message.key"] == pid
    assert write.attributes["db.system.name"] == "mongodb"
    assert not any(s.error for s in spans)
    assert {s.span_id for s in spans} == {x.span_id for x in (server, sent, process, write, push)}

    # The event carries its send span's context, and the caller's tracestate with it.
    record = await event_of(infra.kafka_bootstrap_servers, topic, pid)
    assert record.headers["ce_traceparent"] == f"00-{trace_id}-{sent.span_id}-01"
    assert record.headers["ce_tracestate"] == "vendor=opaque"
    assert sent.attributes["messaging.message.id"] == record.headers["ce_id"]

    # The projector's batch is a trace of its own, linked to the event's context.
    batches = await traced.receiver.wait_for(
        lambda: [
            s
            for s in traced.receiver.spans
            if s.service == "catalog-projector"
            and s.parent_span_id == ""
            and (trace_id, sent.span_id) in s.links
        ]
    )
    assert len(batches) == 1 and batches[0].trace_id != trace_id
    assert process.links == ((batches[0].trace_id, batches[0].span_id),)


async def test_a_mutation_forwarded_by_a_non_owner_is_still_one_trace(
    traced: TracedStack, infra: Infra
) -> None:
    edge, owner = traced.commands
    pid = owned_by(owner)
    await create(edge, pid)  # no traceparent: the command service starts the trace

    record = await event_of(infra.kafka_bootstrap_servers, traced.topic, pid)
    _, trace_id, sent_id = record.headers["ce_traceparent"].split("-")[:3]
    spans = await all_exported(
        traced.receiver,
        trace_id,
        ("catalog-command", "SERVER"),  # at the edge
        ("catalog-command", "CLIENT"),  # the hop
        ("catalog-command", "SERVER"),  # at the owner
        ("catalog-command", "PRODUCER"),
        ("catalog-projector", "CONSUMER"),
        ("catalog-projector", "CLIENT"),
    )
    server = one(spans, parent_span_id="", name="POST /graphql", kind="SERVER")
    assert server.attributes["server.port"] == edge.port
    hop = child_of(spans, server, kind="CLIENT", name="POST")
    assert hop.attributes["server.port"] == owner.port
    assert hop.attributes["http.response.status_code"] == 200
    at_owner = child_of(spans, hop, kind="SERVER", name="POST /internal/commands")
    assert at_owner.attributes["server.port"] == owner.port
    sent = child_of(spans, at_owner, kind="PRODUCER")
    assert sent.span_id == sent_id
    write = child_of(spans, child_of(spans, sent, kind="CONSUMER"), kind="CLIENT")
    assert write.service == "catalog-projector"
    assert {s.service for s in spans} == {"catalog-command", "catalog-projector"}


async def test_the_probes_are_not_traced_the_other_routes_are(traced: TracedStack) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for service in (*traced.commands, traced.projector, traced.query):
            for path in ("/health", "/ready", "/metrics"):
                assert (await http.get(service.url + path)).status_code == 200
        assert (await http.get(traced.commands[0].url + "/ownership")).status_code == 200
    # Exported in the order they ended: once the last request's span is here, so would be the
    # probes' spans, had they any.
    await traced.receiver.wait_for(
        lambda: [s for s in traced.receiver.spans if s.name == "GET /ownership"]
    )
    probes = ("/health", "/ready", "/metrics")
    assert not [s for s in traced.receiver.spans if s.attributes.get("url.path") in probes]


async def test_with_tracing_off_a_callers_trace_reaches_the_event_unchanged(
    stack: Stack, infra: Infra
) -> None:
    traced_pid, untraced_pid = str(uuid.uuid4()), str(uuid.uuid4())
    traceparent, _, _ = new_traceparent()
    await create(stack.command, traced_pid, {"traceparent": traceparent, "tracestate": "k=v"})
    await create(stack.command, untraced_pid)
    topic = stack.env["EVENTS_TOPIC"]
    record = await event_of(infra.kafka_bootstrap_servers, topic, traced_pid)
    assert (record.headers["ce_traceparent"], record.headers["ce_tracestate"]) == (
        traceparent,
        "k=v",
    )
    record = await event_of(infra.kafka_bootstrap_servers, topic, untraced_pid)
    assert not {"ce_traceparent", "ce_tracestate"} & record.headers.keys()
