"""`python -m services.query`: the query service, in `QUERY_WORKERS` processes."""

import gc

from fastapi import FastAPI

from services.query.app import create_app
from shared.adapters import tracing
from shared.adapters.http import exit_with_parent, serve
from shared.logging import configure_logging
from shared.settings import QuerySettings


def build() -> FastAPI:
    """The app of one process (each worker's, with QUERY_WORKERS > 1)."""
    settings = QuerySettings()
    if settings.query_workers > 1:
        exit_with_parent()
    configure_logging("query", settings.log_level)
    app = create_app(settings, tracing.configure("catalog-query", settings))
    # Everything built so far (modules, the schema, the app) lives as long as the process: out
    # of the cyclic GC's sight, full collections no longer walk it and pause requests
    # (bench/RESULTS.md). Here rather than in the app's lifespan, which also runs inside other
    # processes (the tests').
    gc.collect()
    gc.freeze()
    return app


if __name__ == "__main__":  # not when a worker process imports this module for `build`
    settings = QuerySettings()
    if settings.query_workers == 1:
        serve(build(), settings.host, settings.query_port, settings.max_request_bytes)
    else:
        configure_logging("query", settings.log_level)  # the supervisor's own lines
        serve(
            "services.query.__main__:build",
            settings.host,
            settings.query_port,
            settings.max_request_bytes,
            workers=settings.query_workers,
        )
