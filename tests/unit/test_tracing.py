"""Tracing's switch (the standard OTEL_* variables), W3C Trace Context as the events carry it, the
pass-through of a caller's context with tracing off, and the spans of each service's part
(shared/adapters/tracing.py), over the SDK's in-memory exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from shared.adapters import tracing
from shared.adapters.tracing import Origin, ProjectorSpans, PushSpans, SendSpans
from shared.domain.events import ProductUpdated
from shared.envelope import TraceContext, new_envelope
from shared.settings import InfraSettings
from tests.support.tracing import CALLER, CALLER_SPAN_ID, CALLER_TRACE_ID, in_memory, named

ID = "6f1c2c6b-8d11-4a59-9a1f-3f7c2a5e8f0e"
OTEL = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in OTEL:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("variables", "exporters"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
    ],
)
def test_tracing_is_off_unless_an_exporter_or_an_endpoint_is_configured(
    environment: pytest.MonkeyPatch, variables: dict[str, str], exporters: list[str]
) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    settings = InfraSettings()
    assert settings.traces_exporters == exporters
    if not exporters:  # and off means no SDK at all: the global provider is left alone
        assert tracing.configure("test", settings) is tracing.OFF


def test_the_protocol_defaults_to_the_specs_http_protobuf_and_a_traces_one_wins(
    environment: pytest.MonkeyPatch,
) -> None:
    assert InfraSettings().otlp_traces_protocol == "http/protobuf"
    environment.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert InfraSettings().otlp_traces_protocol == "grpc"
    environment.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    assert InfraSettings().otlp_traces_protocol == "http/protobuf"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_TRACES_EXPORTER", "none,otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ],
)
def test_an_exporter_or_protocol_we_cannot_run_stops_the_service_saying_which(
    environment: pytest.MonkeyPatch, name: str, value: str
) -> None:
    environment.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        InfraSettings()


def test_w3c_text_round_trips_through_a_context_and_a_malformed_one_is_no_trace() -> None:
    assert tracing.trace_of(trace.NonRecordingSpan(tracing.span_context(CALLER))) == CALLER  # type: ignore[arg-type]
    found = tracing.span_context(CALLER)
    assert found is not None
    assert (found.trace_id, found.span_id, found.is_remote) == (
        CALLER_TRACE_ID,
        CALLER_SPAN_ID,
        True,
    )
    for bad in ("", "00-xyz", "00-" + "0" * 32 + "-b7ad6b7169203331-01", "not a traceparent"):
        assert tracing.span_context(TraceContext(bad)) is None
    assert tracing.span_context(None) is None
    assert tracing.current() is None  # no span, nothing passed through


def test_an_events_tracestate_keeps_at_most_512_characters_cut_as_w3c_says() -> None:
    assert tracing.bounded("a=1,b=2") == "a=1,b=2"
    long_one = "big=" + "x" * 200
    entries = [f"k{i:02d}=" + "v" * 40 for i in range(20)]  # 20 entries of 44 characters
    cut = tracing.bounded(",".join([entries[0], long_one, *entries[1:]]))
    assert long_one not in cut and len(cut) <= 512
    assert cut == ",".join(entries[:11])  # the first eleven fit (11 * 45 - 1 = 494)


async def _called_with(headers: list[tuple[bytes, bytes]]) -> TraceContext | None:
    seen: list[TraceContext | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(tracing.current())

    async def receive() -> Any:
        return {"type": "http.request"}

    async def send(_: Any) -> None:
        return None

    scope = {"type": "http", "headers": headers, "path": "/graphql", "method": "POST"}
    await tracing.PassThrough(app)(scope, receive, send)
    assert tracing.current() is None  # restored once the request is done
    return seen[0]


async def test_with_tracing_off_a_callers_trace_context_is_passed_through_unchanged() -> None:
    caller = [
        (b"traceparent", CALLER.traceparent.encode()),
        (b"tracestate", CALLER.tracestate.encode()),
    ]
    assert await _called_with(caller) == CALLER
    assert await _called_with([(b"content-type", b"application/json")]) is None
    assert await _called_with([(b"traceparent", b"00-garbage")]) is None


def test_each_event_is_sent_in_a_producer_span_of_its_commands_trace() -> None:
    traced, exported = in_memory()
    mine = new_envelope(ProductUpdated(id=ID, name="A"), 2, "c1", "r1", "u", CALLER)
    untraced = new_envelope(ProductUpdated(id=ID, name="B"), 3, "c2", "r2", "u")
    sending = SendSpans(traced, "product-events").start(4, [mine, untraced], 70)
    sending.end()
    first, second = exported.get_finished_spans()
    assert first.name == second.name == "send product-events"
    assert first.kind is SpanKind.PRODUCER
    assert first.context.trace_id == CALLER_TRACE_ID and first.parent is not None
    assert first.parent.span_id == CALLER_SPAN_ID
    assert second.parent is None  # a command without a trace starts one
    assert first.attributes is not None
    assert first.attributes["messaging.kafka.offset"] == 70
    assert first.attributes["messaging.destination.partition.id"] == "4"
    assert first.attributes["messaging.message.id"] == mine.event_id
    # The events carry their send span's context (and the caller's tracestate) instead.
    carried = [tracing.span_context(e.trace) for e in sending.envelopes]
    assert [(c.trace_id, c.span_id) for c in carried if c is not None] == [
        (s.context.trace_id, s.context.span_id) for s in (first, second)
    ]
    assert sending.envelopes[0].trace is not None
    assert sending.envelopes[0].trace.tracestate == CALLER.tracestate
    assert [e.event_id for e in sending.envelopes] == [mine.event_id, untraced.event_id]


def test_with_tracing_off_sending_leaves_the_events_as_planned() -> None:
    mine = new_envelope(ProductUpdated(id=ID, name="A"), 2, "c1", "r1", "u", CALLER)
    sending = SendSpans(tracing.OFF, "t").start(0, [mine], 0)
    assert sending.envelopes == [mine] and sending.spans == []


def test_a_projector_batch_links_every_traced_event_and_traces_each_in_its_own_trace() -> None:
    traced, exported = in_memory()
    other = TraceContext("00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    events = [
        new_envelope(ProductUpdated(id=ID, name="A"), 2, "c", "r", "u", CALLER),
        new_envelope(ProductUpdated(id=ID, name="B"), 3, "c", "r", "u"),  # written untraced
        new_envelope(ProductUpdated(id=ID, name="C"), 4, "c", "r", "u", other),
    ]
    origins = [Origin("product-events", 1, offset) for offset in (10, 11, 12)]
    batch = ProjectorSpans(traced, "catalog-projector", "catalog").batch(events, origins)
    batch.end(attributes={"catalog.projection.applied": 3})
    spans = exported.get_finished_spans()
    (whole,) = [s for s in named(spans, "process product-events") if s.parent is None]
    assert whole.kind is SpanKind.CONSUMER
    assert {(link.context.trace_id, link.context.span_id) for link in whole.links} == {
        (CALLER_TRACE_ID, CALLER_SPAN_ID),
        (int("1" * 32, 16), int("2" * 16, 16)),
    }
    assert whole.attributes is not None
    assert whole.attributes["messaging.batch.message_count"] == 3
    assert whole.attributes["catalog.projection.applied"] == 3
    writes = named(spans, "transaction catalog")
    assert {w.context.trace_id for w in writes} == {CALLER_TRACE_ID, int("1" * 32, 16)}
    for write in writes:
        (process,) = [s for s in spans if write.parent and s.context == write.parent]
        assert process.name == "process product-events" and process.kind is SpanKind.CONSUMER
        assert process.parent is not None and process.context.trace_id == write.context.trace_id
        assert [link.context for link in process.links] == [whole.context]
        assert write.kind is SpanKind.CLIENT
        assert write.attributes is not None and write.attributes["db.system.name"] == "mongodb"
    # The events go on carrying their MongoDB write's context; the untraced one none.
    assert [tracing.span_context(e.trace) is not None for e in batch.envelopes] == [
        True,
        False,
        True,
    ]
    carried = tracing.span_context(batch.envelopes[0].trace)
    assert carried is not None
    assert carried.span_id in {w.context.span_id for w in writes}


def test_a_failed_batch_ends_every_span_as_failed() -> None:
    traced, exported = in_memory()
    event = new_envelope(ProductUpdated(id=ID, name="A"), 2, "c", "r", "u", CALLER)
    ProjectorSpans(traced, "g", "db").batch([event], [Origin("t", 0, 0)]).end(RuntimeError())
    spans = exported.get_finished_spans()
    assert len(spans) == 3
    assert all(s.status.status_code is StatusCode.ERROR for s in spans)


def test_a_push_continues_the_documents_trace_and_links_the_subscribers_connection() -> None:
    traced, exported = in_memory()
    pushes = PushSpans(traced)
    with traced.tracer.start_as_current_span("WS /graphql") as connection:
        subscriber = pushes.subscriber()
    assert subscriber == connection.get_span_context()
    span = pushes.start(CALLER, subscriber, {"catalog.product.version": 2})
    assert span is not None
    span.end()
    assert pushes.start(None, subscriber, {}) is None  # a version written untraced
    assert PushSpans(tracing.OFF).start(CALLER, None, {}) is None
    (push,) = named(exported.get_finished_spans(), "push productChanged")
    assert push.parent is not None and push.parent.span_id == CALLER_SPAN_ID
    assert push.context.trace_id == CALLER_TRACE_ID and push.kind is SpanKind.PRODUCER
    assert [link.context for link in push.links] == [subscriber]


CONFIGURE = """
from opentelemetry import trace
from shared.adapters import tracing
from shared.settings import InfraSettings
traced = tracing.configure("catalog-test", InfraSettings())
assert trace.get_tracer_provider() is traced.provider  # the global one, for FastAPI and others
traced.tracer.start_span("a span").end()
tracing.shutdown(traced)
"""


def test_configured_tracing_is_the_global_provider_and_exports_its_spans() -> None:
    """In a process of its own: the global provider can be set once per process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_TRACES_EXPORTER"] = "console"
    done = subprocess.run(
        [sys.executable, "-c", CONFIGURE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)  # the span, as the console exporter prints it
    assert printed["name"] == "a span"
    assert printed["resource"]["attributes"]["service.name"] == "catalog-test"


@pytest.mark.parametrize(
    ("variables", "kind"),
    [
        ({"OTEL_TRACES_EXPORTER": "console"}, ConsoleSpanExporter),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, HttpExporter),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            GrpcExporter,
        ),
    ],
)
def test_each_exporter_is_the_one_the_variables_name(
    environment: pytest.MonkeyPatch, variables: dict[str, str], kind: type
) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    settings = InfraSettings()
    (name,) = settings.traces_exporters
    made = tracing.exporter(name, settings)
    try:
        assert isinstance(made, kind)
    finally:
        made.shutdown()
