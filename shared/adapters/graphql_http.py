"""GraphQL over HTTP (and WebSocket) with ariadne, and the error contract of DESIGN.md §2.

Every error carries `extensions.code`. A DomainError brings its own code and extensions; an error
without an original exception is the client's query or variables failing validation; anything
else is a bug on our side, logged with its traceback and reported without one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Collection
from pathlib import Path
from typing import Any, TypeAlias

import orjson
from ariadne import load_schema_from_path
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLHTTPHandler
from ariadne.exceptions import HttpBadRequestError
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    TypeInfo,
    parse,
    specified_rules,
    validate,
)

from shared.domain.errors import DomainError

log = logging.getLogger(__name__)
Info: TypeAlias = "GraphQLResolveInfo[Any]"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


class HTTPHandler(GraphQLHTTPHandler):
    """ariadne's HTTP handler, refusing with a 400 what it used to answer with a 500.

    - The body is parsed with orjson. The standard library's parser (ariadne's) raises
      RecursionError on JSON nested a few thousand levels deep, which ariadne does not catch;
      orjson stops at 1024 levels with a decode error. orjson also refuses lone surrogates
      ("\\ud800"): valid JSON escapes, but not Unicode text, so they cannot be encoded as UTF-8
      for MongoDB, Kafka or the response and failed wherever they went first.
    - multipart/form-data (GraphQL file uploads) is refused: no schema here takes an Upload,
      and ariadne would need python-multipart, which is not installed, to parse one.
    """

    async def extract_data_from_json_request(self, request: Request) -> Any:
        try:
            return orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise HttpBadRequestError(f"Request body is not valid JSON: {exc}") from None

    async def extract_data_from_multipart_request(self, request: Request) -> dict[str, Any]:
        raise HttpBadRequestError(
            "multipart/form-data is not supported: this endpoint takes no file uploads"
        )


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


class QueryCache:
    """Parses each distinct query text once, and checks it against the spec's rules once.

    Clients send the same few query texts over and over with different variables, and
    graphql-core walks the whole document with ~30 validation rules every time: under load that
    was two thirds of each service's CPU (bench/RESULTS.md). A document depends only on its
    text, and the spec's rules only on (schema, document), so both results can be kept. Rules
    of our own (depth, cost) may depend on the request's variables, so they still run on every
    request, alone. A failing document is never kept, and the whole validation runs again,
    so errors are exactly graphql-core's. Bounded LRUs, and only texts up to
    `max_query_chars`, so many distinct or huge queries cannot make it grow without bound.
    """

    def __init__(self, size: int = 256, max_query_chars: int = 8192) -> None:
        self._size = size
        self._max_chars = max_query_chars
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._valid: OrderedDict[tuple[int, int], DocumentNode] = OrderedDict()

    def parse(self, _context: Any, data: dict[str, Any]) -> DocumentNode:
        query: str = data["query"]
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
            return document
        document = parse(query)
        if len(query) <= self._max_chars:
            _remember(self._documents, query, document, self._size)
        return document

    def validate(
        self,
        schema: GraphQLSchema,
        document_ast: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        type_info: TypeInfo | None = None,  # ariadne's signature; graphql-core 3.3 has none
    ) -> list[GraphQLError]:
        rules = tuple(rules) if rules is not None else specified_rules
        own = [rule for rule in rules if rule not in _SPEC_RULES]
        # Keyed by identity: the entry holds the document, so its id cannot be reused meanwhile.
        key = (id(schema), id(document_ast))
        if self._valid.get(key) is document_ast:
            self._valid.move_to_end(key)
            return validate(schema, document_ast, own, max_errors) if own else []
        errors = validate(schema, document_ast, rules, max_errors)
        if not errors:
            _remember(self._valid, key, document_ast, self._size)
        return errors


_SPEC_RULES = frozenset(specified_rules)


def _remember(
    cache: OrderedDict[Any, DocumentNode], key: Any, value: DocumentNode, size: int
) -> None:
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)


def mount_graphql(app: FastAPI, graphql: GraphQL) -> None:
    """Serve the endpoint at exactly /graphql for HTTP and WebSocket (no redirect to /graphql/).

    Every service's handlers also get a QueryCache for parsing and validation, unless the
    service configured a parser or validator of its own. The HTTP handler must be an
    HTTPHandler (or a subclass), so that no service answers malformed bodies with a 500.
    """
    if not isinstance(graphql.http_handler, HTTPHandler):
        raise TypeError("create the GraphQL app with http_handler=HTTPHandler()")
    cache = QueryCache()
    for handler in (graphql.http_handler, graphql.websocket_handler):
        if handler.query_parser is None and handler.query_validator is None:
            handler.query_parser = cache.parse
            handler.query_validator = cache.validate
    app.add_route("/graphql", graphql.handle_request, methods=["GET", "POST", "OPTIONS"])
    app.router.add_websocket_route("/graphql", graphql.handle_websocket)  # type: ignore[arg-type]
