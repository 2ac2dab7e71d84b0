"""The HTTP shell every service shares: /health, /ready, /metrics and correlation ids."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]
CORRELATION_HEADER = "X-Correlation-ID"
# FastAPI's native OpenTelemetry support looks for configured providers on every request (three
# os.environ lookups), which was ~9% of the command service's CPU under load (bench/RESULTS.md).
# The services export no traces, metrics or logs through OpenTelemetry (metrics are Prometheus);
# whoever wires OpenTelemetry in turns these back on.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
log = logging.getLogger(__name__)


def service_app(
    title: str,
    ready: ReadyCheck,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """A FastAPI app with the operational endpoints of DESIGN.md §2 already in place.

    `ready` names each dependency with whether it is usable; /ready is 200 only if all are.
    """
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NO_TELEMETRY,
    )
    app.add_middleware(CorrelationIdMiddleware, header_name=CORRELATION_HEADER, validator=None)

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


def serve(app: Any, host: str, port: int) -> None:
    """Run under uvicorn with uvloop and httptools, logging through our JSON handler."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        ws="websockets-sansio",
        timeout_graceful_shutdown=5,
    )
