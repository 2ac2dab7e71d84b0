"""What a resolver knows of the request it serves: the correlation id and the caller."""

from __future__ import annotations

from typing import Any, TypeAlias

from asgi_correlation_id import correlation_id
from graphql import GraphQLResolveInfo

from shared.adapters.auth import Principal

Info: TypeAlias = "GraphQLResolveInfo[Any]"


def context(request: Any, _data: Any = None) -> dict[str, Any]:
    """The context value of each operation (HTTP request or WebSocket connection)."""
    return {
        "request": request,
        "correlation_id": correlation_id.get(),
        "principal": getattr(request.state, "principal", None),
    }


def principal(info: Info) -> Principal:
    """The caller, for a resolver of an endpoint that requires a token (the edge checked it)."""
    caller: Principal | None = info.context["principal"]
    if caller is None:  # only if an endpoint was wired without its verifier: a bug, not a 401
        raise RuntimeError("this endpoint was mounted without a token verifier")
    return caller
