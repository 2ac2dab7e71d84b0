"""JSON-lines logs carrying the request's correlation id, one format for every service."""

from __future__ import annotations

import logging
import sys

from asgi_correlation_id import CorrelationIdFilter
from pythonjsonlogger.json import JsonFormatter


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(CorrelationIdFilter(uuid_length=36, default_value="-"))
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("ariadne").setLevel(logging.CRITICAL)  # format_error logs what matters
    for noisy in ("kafka", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # During a broker outage aiokafka logs every reconnect attempt as an ERROR, a hundred a
    # second; our adapters log what failed and /ready shows it, so only its criticals pass.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    # uvicorn's own handlers would print plain text beside ours; route everything through root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
