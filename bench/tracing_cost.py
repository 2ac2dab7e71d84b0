"""What tracing costs per mutation (`tracing` in latest.json).

The write phase's mix (bench/lua/write.lua: createProduct / updateProduct 1:1) at concurrency 32
against the bench's own command service and projector, in three modes, back to back:

- **off**: as by default, no OTEL_* variable set, requests without `traceparent`;
- **pass-through**: still off, but every request carries a new W3C `traceparent` (a traced
  client), which reaches the events unchanged;
- **on**: OTEL_EXPORTER_OTLP_ENDPOINT set, the SDK's defaults otherwise (every trace sampled,
  OTLP over http/protobuf, batch span processor), requests without `traceparent`, so each
  mutation starts a trace. The services export to a sink in the bench's process, which decodes
  and counts the spans (as a collector would, on the same two cores) and keeps nothing.

- **off again**: restarted as they were, to end as it began, and to show the noise: the two
  off runs differ by whatever the machine did meanwhile, and a cost smaller than that
  difference was not measured.

For each: throughput and latency, and the CPU per mutation of the command service (during the
load) and of the projector (during the load and until it has caught up), as the other phases
measure it (`/proc/<pid>/stat`). Each mode's cost is its CPU per mutation over the mean of the
two off runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from bench import stack, wrk
from bench.config import Config

CONCURRENCY = 32
# The SDK's batch span processor exports at least every 5 s (OTEL_BSP_SCHEDULE_DELAY's default).
EXPORT_DELAY_S = 6.0


class SpanSink:
    """An OTLP/HTTP endpoint that counts the spans it is sent and drops them."""

    def __init__(self) -> None:
        self.spans = 0
        self.requests = 0
        self._lock = threading.Lock()
        sink = self
        answer = ExportTraceServiceResponse().SerializeToString()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest.FromString(body)
                count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
                with sink._lock:
                    sink.spans += count
                    sink.requests += 1
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"


@contextmanager
def sink() -> Iterator[SpanSink]:
    running = SpanSink()
    thread = threading.Thread(target=running._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running._server.shutdown()
        running._server.server_close()


def _measure(
    config: Config, ids: Path, traceparent: bool, wait_idle: Callable[[], float]
) -> dict[str, Any]:
    env = {"BENCH_IDS": str(ids), "BENCH_TRACEPARENT": "1" if traceparent else "0"}
    url = config.url("command")
    warmup = wrk.run(url, "write.lua", CONCURRENCY, config.warmup_seconds, env)
    wait_idle()
    pids = stack.service_pids(config)
    projector_before = stack.cpu_seconds(pids["projector"])
    result = wrk.run(
        url, "write.lua", CONCURRENCY, config.write_seconds, env, server_pid=pids["command"]
    )
    caught_up_s = wait_idle()
    projector_s = stack.cpu_seconds(pids["projector"]) - projector_before
    mutations = result.requests - result.failed
    return {
        "rps": round(result.rps, 1),
        "p50_ms": round(result.pct(50), 2),
        "p99_ms": round(result.pct(99), 2),
        "failed": result.failed,
        "mutations": mutations,
        "warmup_mutations": warmup.requests - warmup.failed,
        "command_cpu_ms_per_mutation": result.cpu().get("server_cpu_ms_per_request"),
        "projector_cpu_ms_per_mutation": round(1000 * projector_s / mutations, 3),
        "projector_caught_up_s": caught_up_s,
    }


OFF = ("off", "off_again")


def costs(modes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """CPU per mutation added by each mode over the mean of the off runs, per service and in
    all."""
    offs = [modes[name] for name in OFF if name in modes]

    def mean(field: str) -> float:
        return sum(float(m[field]) for m in offs) / len(offs)

    off = {
        "command_cpu_ms_per_mutation": mean("command_cpu_ms_per_mutation"),
        "projector_cpu_ms_per_mutation": mean("projector_cpu_ms_per_mutation"),
        "rps": mean("rps"),
    }
    added: dict[str, Any] = {}
    for name, mode in modes.items():
        if name in OFF:
            continue
        command = mode["command_cpu_ms_per_mutation"] - off["command_cpu_ms_per_mutation"]
        projector = mode["projector_cpu_ms_per_mutation"] - off["projector_cpu_ms_per_mutation"]
        added[name] = {
            "command_cpu_ms": round(command, 3),
            "projector_cpu_ms": round(projector, 3),
            "total_cpu_ms": round(command + projector, 3),
            "rps_ratio": round(mode["rps"] / off["rps"], 3) if off["rps"] else None,
        }
    return added


def noise(modes: dict[str, dict[str, Any]]) -> dict[str, float]:
    """How far apart the two off runs are, in CPU ms per mutation: below that, no cost shows."""
    first, again = (modes[name] for name in OFF)
    return {
        f"{service}_cpu_ms": round(
            abs(again[f"{service}_cpu_ms_per_mutation"] - first[f"{service}_cpu_ms_per_mutation"]),
            3,
        )
        for service in ("command", "projector")
    }


def run(
    config: Config,
    ids: Path,
    wait_idle: Callable[[], float],
    wait_warm: Callable[[], float],
    log: Any = print,
) -> dict[str, Any]:
    """`wait_idle`: until the bench projector has no lag left; `wait_warm`: until the query
    service has its cache warm again after a restart (its warming would compete for the CPU);
    each returns the seconds it took."""
    modes: dict[str, dict[str, Any]] = {}
    modes["off"] = _measure(config, ids, False, wait_idle)
    modes["pass_through"] = _measure(config, ids, True, wait_idle)
    with sink() as spans:
        stack.stop_services(config)
        stack.start_services(config, {"OTEL_EXPORTER_OTLP_ENDPOINT": spans.endpoint})
        wait_warm()
        wait_idle()
        before = spans.spans
        modes["on"] = _measure(config, ids, False, wait_idle)
        time.sleep(EXPORT_DELAY_S)  # what the batch span processors still hold
        exported = spans.spans - before
        every = modes["on"]["mutations"] + modes["on"]["warmup_mutations"]
        modes["on"]["spans_per_mutation"] = round(exported / every, 2)
        stack.stop_services(config)
    stack.start_services(config)
    wait_warm()
    wait_idle()
    modes["off_again"] = _measure(config, ids, False, wait_idle)
    for name, mode in modes.items():
        log(
            f"  {name:<12} {mode['rps']:7.1f} rps p99 {mode['p99_ms']:6.1f} ms | CPU/mutation "
            f"command {mode['command_cpu_ms_per_mutation']:.3f} ms, projector "
            f"{mode['projector_cpu_ms_per_mutation']:.3f} ms"
            + (f" | {mode['failed']} failed" if mode["failed"] else "")
            + (
                f" | {mode['spans_per_mutation']} spans/mutation"
                if "spans_per_mutation" in mode
                else ""
            )
        )
    added, apart = costs(modes), noise(modes)
    log(
        f"  the two off runs differ by {apart['command_cpu_ms']:.3f} ms (command) and "
        f"{apart['projector_cpu_ms']:.3f} ms (projector) of CPU per mutation"
    )
    for name, cost in added.items():
        log(
            f"  {name}: +{cost['total_cpu_ms']:.3f} ms CPU per mutation "
            f"(command {cost['command_cpu_ms']:+.3f}, projector {cost['projector_cpu_ms']:+.3f}), "
            f"throughput x{cost['rps_ratio']}"
        )
    return {"concurrency": CONCURRENCY, "modes": modes, "added": added, "noise": apart}
