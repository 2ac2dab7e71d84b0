"""OpenTelemetry: one trace from a mutation's request to the read model and the subscription push.

The spans of one mutation, all in the trace of the request (the caller's `traceparent`, or a new
trace), each a child of the one above it:

    command    SERVER    POST /graphql              FastAPI's own span (shared/adapters/http.py)
    command    CLIENT    POST                       only when forwarded: the hop to the owner
    command    SERVER    POST /internal/commands    the owner's side of that hop
    command    PRODUCER  send <topic>               one per event, over its Kafka transaction;
                                                    its context is the event's `ce_traceparent`
    projector  CONSUMER  process <topic>            one per event, child of the event's context
    projector  CLIENT    transaction <database>     the batch's MongoDB transaction, as this
                                                    event's trace sees it; its context is stored
                                                    with the product's document
    query      PRODUCER  push productChanged        one per subscription message, child of the
                                                    context stored with the document

The projector applies a batch of many events, of many traces, in one MongoDB transaction; the
batch has a span of its own, `process <topic>` (CONSUMER), a trace of its own with a link to
each event's context, as OpenTelemetry's messaging conventions describe batch processing; the
per-event spans link back to it. Attribute names are those of the semantic conventions
(messaging.*, db.*).

Tracing is off unless configured (`configure`, from the standard OTEL_* variables that
shared/settings.py lists). Off, no span is recorded and nothing is exported, but the API still
does what it does without an SDK: a request's own `traceparent` becomes the current context
(`PassThrough`), so the events it causes, and a forwarded hop, carry the caller's trace on.
Events of a request without one carry none, and events without one are projected as before.

Everything here works on W3C Trace Context as text (`TraceContext`, the events' format): the
pure parts of the code (planning, the read models) carry it as data, and only this module turns
it into OpenTelemetry contexts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from time import time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.envelope import Envelope, TraceContext
from shared.settings import InfraSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)

# The events carry W3C Trace Context whatever OTEL_PROPAGATORS says: the CloudEvents
# distributed-tracing extension is defined as W3C's traceparent and tracestate. HTTP hops use
# the configured propagators (`propagate`), W3C's and baggage by default.
W3C = TraceContextTextMapPropagator()
TRACER = "catalog"


@dataclass(frozen=True)
class Tracing:
    """The tracer to record spans with; `recording` false when tracing is off (the API's no-op
    tracer, and every span-making path here skipped)."""

    tracer: Tracer
    recording: bool = True
    provider: trace.TracerProvider | None = None


OFF = Tracing(trace.NoOpTracer(), recording=False)


def configure(service: str, settings: InfraSettings) -> Tracing:
    """The process's tracing, from the OTEL_* settings: OFF unless an exporter is configured.

    Otherwise an SDK TracerProvider, made the global one, with a batch span processor per
    exporter. The SDK reads the rest of the standard variables itself: OTEL_SERVICE_NAME and
    OTEL_RESOURCE_ATTRIBUTES (the service name defaults to `service`), OTEL_TRACES_SAMPLER(_ARG),
    OTEL_EXPORTER_OTLP_* (headers, timeout, compression, certificates), OTEL_BSP_*.
    """
    exporters = settings.traces_exporters
    if not exporters:
        return OFF
    # The SDK is imported only now: with tracing off, the services run on the API alone.
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource)
    for name in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter(name, settings)))
    trace.set_tracer_provider(provider)
    log.info("tracing on: exporting spans with %s", ", ".join(exporters))
    return Tracing(provider.get_tracer(TRACER), provider=provider)


def exporter(name: str, settings: InfraSettings) -> SpanExporter:
    """The span exporter `name` (of OTEL_TRACES_EXPORTER) stands for, as the settings say."""
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    # Imported here: each pulls in its transport (requests, grpcio) only when it is used.
    if settings.otlp_traces_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def shutdown(tracing: Tracing) -> None:
    """Export what is still buffered (the SDK also does this at exit)."""
    shut = getattr(tracing.provider, "shutdown", None)
    if callable(shut):
        shut()


# ----------------------------------------------------------------------- W3C text <-> contexts


# What an event keeps of a `tracestate`: the 512 characters W3C Trace Context asks every
# participant to pass on at least (the propagator takes up to 8192, and the log is forever).
TRACESTATE_MAX = 512


def _text(carrier: dict[str, str]) -> TraceContext | None:
    traceparent = carrier.get("traceparent")
    if not traceparent:
        return None
    return TraceContext(traceparent, bounded(carrier.get("tracestate", "")))


def bounded(tracestate: str) -> str:
    """`tracestate` cut to TRACESTATE_MAX characters the way W3C Trace Context says: entries
    longer than 128 characters go first, then entries from the end."""
    if len(tracestate) <= TRACESTATE_MAX:
        return tracestate
    entries = [e.strip() for e in tracestate.split(",") if e.strip()]
    entries = [e for e in entries if len(e) <= 128]
    while entries and len(",".join(entries)) > TRACESTATE_MAX:
        entries.pop()
    return ",".join(entries)


def current() -> TraceContext | None:
    """The current context as W3C text (the current span's, or the caller's passed through)."""
    carrier: dict[str, str] = {}
    W3C.inject(carrier)
    return _text(carrier)


def parent(trace_context: TraceContext | None) -> Context:
    """The context to start a child of `trace_context` in; an empty one (a new trace) for None
    or a malformed traceparent."""
    if trace_context is None:
        return Context()
    carrier = {"traceparent": trace_context.traceparent}
    if trace_context.tracestate:
        carrier["tracestate"] = trace_context.tracestate
    return W3C.extract(carrier, context=Context())


def span_context(trace_context: TraceContext | None) -> SpanContext | None:
    """The span context `trace_context` names, if it names a valid one (to link to)."""
    found = trace.get_current_span(parent(trace_context)).get_span_context()
    return found if found.is_valid else None


def trace_of(span: Span) -> TraceContext | None:
    """A span's context as W3C text."""
    carrier: dict[str, str] = {}
    W3C.inject(carrier, context=trace.set_span_in_context(span, Context()))
    return _text(carrier)


class PassThrough:
    """Tracing off: a request's own trace context becomes the current one, as the OpenTelemetry
    API passes context through without an SDK. So the events a traced caller causes, and the
    hop of a forwarded command, still carry the caller's trace (FastAPI's telemetry does this,
    with a span, when tracing is on). A request without `traceparent` costs a header scan."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(n == b"traceparent" for n, _ in scope["headers"]):
            token = otel_context.attach(propagate.extract(Headers(scope=scope)))
            try:
                await self.app(scope, receive, send)
            finally:
                otel_context.detach(token)
            return
        await self.app(scope, receive, send)


# ------------------------------------------------------------------------- the catalog's spans

_KAFKA = {"messaging.system": "kafka"}


@dataclass
class Sending:
    """The PRODUCER spans of one append: `envelopes` are the plan's, each carrying its span's
    context, to append instead; `end` once the transaction committed or failed."""

    envelopes: list[Envelope]
    spans: list[Span]

    def end(self, error: str | None = None) -> None:
        for span in self.spans:
            if error is not None:
                span.set_status(StatusCode.ERROR, error)
            span.end()


@dataclass(frozen=True)
class SendSpans:
    """The command side's spans: one `send <topic>` per event appended."""

    tracing: Tracing
    topic: str

    def start(self, partition: int, envelopes: Sequence[Envelope], first_offset: int) -> Sending:
        """Each event's span, a child of the context its command was issued in; off, the
        envelopes unchanged (they carry the caller's context, if any, already)."""
        if not self.tracing.recording:
            return Sending(list(envelopes), [])
        spans: list[Span] = []
        stamped: list[Envelope] = []
        for i, envelope in enumerate(envelopes):
            span = self.tracing.tracer.start_span(
                f"send {self.topic}",
                context=parent(envelope.trace),
                kind=SpanKind.PRODUCER,
                attributes={
                    **_KAFKA,
                    "messaging.operation.type": "send",
                    "messaging.operation.name": "send",
                    "messaging.destination.name": self.topic,
                    "messaging.destination.partition.id": str(partition),
                    "messaging.kafka.offset": first_offset + i,
                    "messaging.kafka.message.key": envelope.product_id,
                    "messaging.message.id": envelope.event_id,
                    "messaging.batch.message_count": len(envelopes),
                    "cloudevents.event_type": envelope.type,
                },
            )
            spans.append(span)
            stamped.append(replace(envelope, trace=trace_of(span) or envelope.trace))
        return Sending(stamped, spans)


@dataclass(frozen=True)
class Origin:
    """Where a record was read: for the per-event spans' attributes."""

    topic: str
    partition: int
    offset: int


class Projecting:
    """The spans of one projector batch (see the module's docstring)."""

    def __init__(
        self,
        spans: ProjectorSpans,
        envelopes: Sequence[Envelope],
        origins: Sequence[Origin],
    ) -> None:
        tracer = spans.tracing.tracer
        topic = origins[0].topic if origins else ""
        started = time_ns()
        contexts = [span_context(e.trace) for e in envelopes]
        links: dict[tuple[int, int], Link] = {}
        for found in contexts:
            if found is not None:
                links.setdefault((found.trace_id, found.span_id), Link(found))
        messaging = {
            **_KAFKA,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": spans.group,
        }
        self._batch = tracer.start_span(
            f"process {topic}",
            context=Context(),
            kind=SpanKind.CONSUMER,
            links=list(links.values()),
            attributes={**messaging, "messaging.batch.message_count": len(envelopes)},
            start_time=started,
        )
        back = [Link(self._batch.get_span_context())]
        self._spans: list[Span] = []
        self.envelopes: list[Envelope] = []
        for envelope, found, where in zip(envelopes, contexts, origins, strict=True):
            if found is None:  # an event written without a trace: projected, not traced
                self.envelopes.append(envelope)
                continue
            process = tracer.start_span(
                f"process {topic}",
                context=trace.set_span_in_context(trace.NonRecordingSpan(found), Context()),
                kind=SpanKind.CONSUMER,
                links=back,
                attributes={
                    **messaging,
                    "messaging.destination.partition.id": str(where.partition),
                    "messaging.kafka.offset": where.offset,
                    "messaging.kafka.message.key": envelope.product_id,
                    "messaging.message.id": envelope.event_id,
                    "cloudevents.event_type": envelope.type,
                },
                start_time=started,
            )
            write = tracer.start_span(
                f"transaction {spans.database}",
                context=trace.set_span_in_context(process, Context()),
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system.name": "mongodb",
                    "db.namespace": spans.database,
                    "db.operation.name": "transaction",
                    "db.operation.batch.size": len(envelopes),
                },
                start_time=started,
            )
            self._spans += [write, process]
            self.envelopes.append(replace(envelope, trace=trace_of(write) or envelope.trace))

    def end(
        self, error: BaseException | None = None, attributes: dict[str, int] | None = None
    ) -> None:
        """The batch was written (or failed with `error`); `attributes` go on the batch span."""
        ended = time_ns()
        self._batch.set_attributes(attributes or {})
        for span in [*self._spans, self._batch]:
            if error is not None:
                span.set_status(StatusCode.ERROR, type(error).__name__)
            span.end(ended)


@dataclass(frozen=True)
class ProjectorSpans:
    """The projector's spans: a batch's, and each event's process and MongoDB write."""

    tracing: Tracing
    group: str
    database: str

    @property
    def recording(self) -> bool:
        return self.tracing.recording

    def batch(self, envelopes: Sequence[Envelope], origins: Sequence[Origin]) -> Projecting:
        return Projecting(self, envelopes, origins)


@dataclass(frozen=True)
class PushSpans:
    """The query side's spans: one `push productChanged` per subscription message."""

    tracing: Tracing

    def subscriber(self) -> SpanContext | None:
        """The current span's context (a subscription's connection), to link each push to."""
        if not self.tracing.recording:
            return None
        found = trace.get_current_span().get_span_context()
        return found if found.is_valid else None

    def start(
        self,
        trace_context: TraceContext | None,
        subscriber: SpanContext | None,
        attributes: dict[str, Any],
    ) -> Span | None:
        """A push's span, a child of the context stored with the document pushed; none for a
        document written without one (its event had no trace) or with tracing off."""
        if not self.tracing.recording:
            return None
        context = parent(trace_context)
        if not trace.get_current_span(context).get_span_context().is_valid:
            return None
        return self.tracing.tracer.start_span(
            "push productChanged",
            context=context,
            kind=SpanKind.PRODUCER,
            links=[Link(subscriber)] if subscriber is not None else None,
            attributes={"graphql.operation.type": "subscription", **attributes},
        )
