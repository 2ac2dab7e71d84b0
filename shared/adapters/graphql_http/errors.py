"""The error contract of both GraphQL endpoints (README "Errors"): every error has a code.

A CatalogError (a domain refusal, an unavailable service, an error another instance relayed)
brings its own code and extensions; an error without an original exception is the client's
query or variables failing validation; anything else is a bug on our side, logged with
its traceback and reported without one.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from shared.errors import CatalogError

log = logging.getLogger(__name__)


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    original = _cause(error)
    if isinstance(original, CatalogError):
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
