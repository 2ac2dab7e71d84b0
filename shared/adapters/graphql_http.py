"""GraphQL over HTTP (and WebSocket) with ariadne, and the error contract of DESIGN.md §2.

Every error carries `extensions.code`. A DomainError brings its own code and extensions; an error
without an original exception is the client's query or variables failing validation; anything
else is a bug on our side, logged with its traceback and reported without one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeAlias

from ariadne import load_schema_from_path
from ariadne.asgi import GraphQL
from asgi_correlation_id import correlation_id
from fastapi import FastAPI
from graphql import GraphQLError, GraphQLResolveInfo

from shared.domain.errors import DomainError

log = logging.getLogger(__name__)
Info: TypeAlias = "GraphQLResolveInfo[Any]"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


def load_sdl(name: str) -> str:
    return load_schema_from_path(str(SCHEMA_DIR / name))


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    original = _cause(error)
    if isinstance(original, DomainError):
        formatted["message"] = original.message
        formatted["extensions"] = {"code": original.code, **original.extensions}
    elif original is None:
        formatted["extensions"] = {"code": "BAD_USER_INPUT", **(error.extensions or {})}
    else:
        log.error("unhandled error in a resolver", exc_info=original)
        formatted["message"] = "internal error"
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return formatted


def _cause(error: GraphQLError) -> Exception | None:
    """The first non-GraphQL error behind `error`: graphql-core 3.3 wraps a bad variable's
    coercion error in one or two GraphQLErrors, which must still read as the client's fault."""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


def context(request: Any, _data: Any = None) -> dict[str, Any]:
    return {"request": request, "correlation_id": correlation_id.get()}


def mount_graphql(app: FastAPI, graphql: GraphQL) -> None:
    """Serve the endpoint at exactly /graphql for HTTP and WebSocket (no redirect to /graphql/)."""
    app.add_route("/graphql", graphql.handle_request, methods=["GET", "POST", "OPTIONS"])
    app.router.add_websocket_route("/graphql", graphql.handle_websocket)  # type: ignore[arg-type]
