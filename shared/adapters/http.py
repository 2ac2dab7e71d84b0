"""The HTTP shell every service shares: /health, /ready, /metrics, correlation ids, and the
edge guards of the GraphQL services (request-body limit, CORS)."""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from typing import Any

import uvicorn
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.adapters import private_api, tracing
from shared.adapters.tracing import Tracing
from shared.settings import HttpSettings

PR_SET_PDEATHSIG = 1  # linux/prctl.h
ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]
MAX_CORRELATION_ID = 128
CORRELATION_HEADER = "X-Correlation-ID"
# FastAPI's native OpenTelemetry support, left to itself, looks for configured providers on
# every request (three os.environ lookups), a cost measured in bench/RESULTS.md. With tracing off
# (the default) it stays off entirely. With tracing on, its HTTP server spans are the first spans
# of every trace (the W3C context of the request continued, semantic-convention attributes), so
# it traces, with our provider given to it (no lookups); metrics stay Prometheus and logs JSON
# lines, so those two stay off; its operation spans (dependencies, serialization) would only
# cover the operational routes, since GraphQL is a plain route; and the probes, polled every few
# seconds, are not traced.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
PROBES = frozenset({"/health", "/ready", "/metrics"})
log = logging.getLogger(__name__)


def error_body(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    """A response body in the GraphQL error shape, for refusals made before GraphQL runs."""
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def valid_correlation_id(value: str) -> bool:
    """A client's correlation id is kept if it is short printable ASCII (a trace id, a UUID).

    It is written into every event's `ce_correlationid`, in a log kept forever, so anything
    else (a 60 KB header, control characters) is replaced by a generated id, which the
    response's X-Correlation-ID header then tells the client.
    """
    return 0 < len(value) <= MAX_CORRELATION_ID and value.isascii() and value.isprintable()


def telemetry(traced: Tracing) -> TelemetryConfig:
    """FastAPI's native telemetry for a process traced so (see NO_TELEMETRY for why)."""
    if not traced.recording:
        return NO_TELEMETRY
    return {
        "tracer_provider": traced.provider,
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "auto_configure": False,
        "exclude": lambda scope: scope.get("path") in PROBES,
    }


class ServiceApp(FastAPI):
    """FastAPI with one route taken before FastAPI's own stack: the GraphQL endpoint's.

    Every request otherwise passes FastAPI's exception plumbing (server errors, exception
    telemetry, its body limit, exception handlers, an exit stack) and the router before it
    reaches an endpoint: ~45 µs of CPU per request in-process, a fifth of what a cached
    `product(id)` costs in all (bench/RESULTS.md). The GraphQL app needs none of it: it
    answers every error itself. So a request for `direct_route`'s path goes to its app behind
    the same user middleware (the edge's guards, correlation ids, trace pass-through) and
    nothing else. Not while the process traces: FastAPI's telemetry names the server span
    after the route its router matched, so then the path stays a route of the router's.
    """

    direct_route: tuple[str, ASGIApp] | None = None
    tracing: bool = False

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.direct_route is None or self.tracing:
            return stack
        path, endpoint = self.direct_route
        for cls, args, kwargs in reversed(self.user_middleware):
            endpoint = cls(endpoint, *args, **kwargs)
        return DirectRoute(path, endpoint, stack)


class DirectRoute:
    """HTTP requests for exactly `path` to `endpoint`, everything else (other paths,
    WebSockets, lifespan) to `rest`."""

    def __init__(self, path: str, endpoint: ASGIApp, rest: ASGIApp) -> None:
        self.path = path
        self.endpoint = endpoint
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            await self.endpoint(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


def service_app(
    title: str,
    ready: ReadyCheck,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    traced: Tracing = tracing.OFF,
) -> ServiceApp:
    """A FastAPI app with the operational endpoints already in place (docs/architecture.md, Contracts).

    `ready` names each dependency with whether it is usable; /ready is 200 only if all are.
    `traced`: the process's tracing; with it off, a request's own trace context is still passed
    through (tracing.PassThrough).
    """
    app = ServiceApp(
        title=title,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=telemetry(traced),
    )
    app.tracing = traced.recording
    if not traced.recording:
        app.add_middleware(tracing.PassThrough)
    # The id is read from the middleware's context variable, never from the request's header
    # again, so the header is not rewritten (a few µs per request).
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=CORRELATION_HEADER,
        validator=valid_correlation_id,
        update_request_header=False,
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def readiness() -> Response:
        try:
            checks = await ready()
        except Exception:  # a readiness probe answers 503, never 500
            log.warning("readiness check failed", exc_info=True)
            checks = {"checks_ran": False}
        status = 200 if checks and all(checks.values()) else 503
        return JSONResponse({"ready": status == 200, "checks": checks}, status_code=status)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


class _BodyTooLarge(Exception):
    """Raised into the app when the body outgrows the limit; deliberately not a ValueError,
    so no JSON parser on the way mistakes it for bad JSON."""


class BodyLimit:
    """Answers 413 to a request body over `limit` bytes, without reading more of it.

    A declared Content-Length over the limit is refused before the app runs; a chunked body is
    counted as it arrives and the app's reading is cut off at the limit. (Starlette's own
    limit, FastAPI's `max_body_size`, answers a declared oversize with a fixed plain-text body
    that cannot be given the GraphQL error shape, so this one is ours.) Either way the service
    never buffers more than `limit` bytes of one request: once the answer is sent, uvicorn
    drops the rest of the body as it arrives, so the client reads its 413 instead of a reset.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # whatever the app answers to the cut-off body is replaced by the 413
                return
            started = True
            await send(message)

        with suppress(_BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if refused and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        message = f"the request body is larger than {self.limit} bytes"
        response = JSONResponse(
            error_body("PAYLOAD_TOO_LARGE", message, maxBytes=self.limit), status_code=413
        )
        await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def guard_edge(app: FastAPI, settings: HttpSettings) -> None:
    """Body limit and CORS for a service that takes requests from outside."""
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    origins = settings.allowed_origins
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", CORRELATION_HEADER.lower()],
            expose_headers=[CORRELATION_HEADER],
        )


def exit_with_parent() -> None:
    """In a worker process: be sent SIGTERM when the supervisor that started it dies.

    uvicorn's workers share the listening socket; were the supervisor SIGKILLed, they would go
    on serving, unsupervised, and hold the port against the service's next start. Linux only
    (prctl's PR_SET_PDEATHSIG); elsewhere a no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        log.warning(
            "could not ask to be stopped with the supervisor (errno %d)", ctypes.get_errno()
        )
    supervisor = multiprocessing.parent_process()
    if supervisor is not None and os.getppid() != supervisor.pid:  # it died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


def serve(
    app: Any,
    host: str,
    port: int,
    max_message_bytes: int = 16 * 1024 * 1024,
    workers: int = 1,
) -> None:
    """Run under uvicorn with uvloop and httptools (writing each response in one go), logging
    through our JSON handler.

    `workers` > 1: `app` is the import path ("module:function") of a function that builds the
    app in each worker process; uvicorn's supervisor shares the listening socket among them
    and replaces one that dies.
    """
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        loop="uvloop",
        http=private_api.coalescing_http_protocol(),
        log_config=None,
        ws="websockets-sansio",
        ws_max_size=max_message_bytes,
        timeout_graceful_shutdown=5,
    )
