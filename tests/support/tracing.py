"""Tracing for in-process tests: the SDK's in-memory exporter behind a provider of the test's own,
never the process's global one (which can be set only once, and would trace every later test)."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from shared.adapters.tracing import Tracing
from shared.envelope import TraceContext

# A caller's trace: what a traced client sends in `traceparent` (sampled) and `tracestate`.
CALLER = TraceContext(
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "congo=t61rcWkgMzE"
)
CALLER_TRACE_ID = int("0af7651916cd43dd8448eb211c80319c", 16)
CALLER_SPAN_ID = int("b7ad6b7169203331", 16)


def in_memory() -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider.get_tracer("test"), provider=provider), exporter


def named(spans: tuple[ReadableSpan, ...] | list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]
