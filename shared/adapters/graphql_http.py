"""GraphQL over HTTP (and WebSocket) with ariadne, and the error contract of DESIGN.md §2.

Every error carries `extensions.code`. A CatalogError (a domain refusal or an unavailable service) brings its own code and extensions; an error
without an original exception is the client's query or variables failing validation; anything
else is a bug on our side, logged with its traceback and reported without one.

`mount_graphql` is the one place where the services' GraphQL edge is assembled: bearer-token
checks, the request timeout, production mode (no introspection, no explorer), parse caching.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Collection
from pathlib import Path
from typing import Any, TypeAlias

import orjson
from ariadne import load_schema_from_path
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLHTTPHandler, GraphQLTransportWSHandler
from ariadne.exceptions import HttpBadRequestError
from ariadne.explorer import ExplorerGraphiQL, ExplorerHttp405
from ariadne.types import GraphQLResult, ValidationRules
from asgi_correlation_id import correlation_id
from fastapi import FastAPI
from fastapi.responses import JSONResponse
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
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket

from shared.adapters.auth import Principal, TokenVerifier, Unauthenticated
from shared.adapters.http import error_body, guard_edge
from shared.errors import CatalogError
from shared.settings import HttpSettings

log = logging.getLogger(__name__)
Info: TypeAlias = "GraphQLResolveInfo[Any]"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


def load_sdl(name: str) -> str:
    return load_schema_from_path(str(SCHEMA_DIR / name))


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


def context(request: Any, _data: Any = None) -> dict[str, Any]:
    """What resolvers may know of the request: its correlation id and who is calling."""
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


class _HTTPHandler(GraphQLHTTPHandler):
    """ariadne's HTTP handler, checking the bearer token before a POST is even read, bounding
    each execution in time, and refusing with a 400 what ariadne answered with a 500.

    - A refused token answers 401 before the body is parsed, so an unauthenticated caller gets
      no validation feedback and costs next to nothing.
    - The timeout answers a GraphQL error (REQUEST_TIMEOUT, retriable) instead of holding the
      connection; on the command service it is longer than COMMAND_TIMEOUT_S, whose own answer
      (with the commandId to retry) comes first.
    - The body is parsed with orjson. The standard library's parser (ariadne's) raises
      RecursionError on JSON nested a few thousand levels deep, which ariadne does not catch;
      orjson stops at 1024 levels with a decode error. orjson also refuses lone surrogates
      ("\\ud800"): valid JSON escapes, but not Unicode text, so they cannot be encoded as UTF-8
      for MongoDB, Kafka or the response and failed wherever they went first.
    - multipart/form-data (GraphQL file uploads) is refused: no schema here takes an Upload,
      and ariadne would need python-multipart, which is not installed, to parse one.
    """

    def __init__(self, verifier: TokenVerifier | None, timeout_s: float) -> None:
        super().__init__()
        self._verifier = verifier
        self._timeout_s = timeout_s

    async def handle_request_override(self, request: Request) -> Response | None:
        if request.method != "POST" or self._verifier is None:
            return None
        try:
            request.state.principal = self._verifier.verify(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return JSONResponse(
                error_body("UNAUTHENTICATED", str(exc)),
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="catalog"'},
            )
        return None

    async def execute_graphql_query(
        self,
        request: Any,
        data: Any,
        *,
        context_value: Any = None,
        query_document: DocumentNode | None = None,
    ) -> GraphQLResult:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await super().execute_graphql_query(
                    request, data, context_value=context_value, query_document=query_document
                )
        except TimeoutError:
            message = f"the request did not finish within {self._timeout_s:g} s; retry later"
            return True, error_body("REQUEST_TIMEOUT", message, retriable=True)

    async def extract_data_from_json_request(self, request: Request) -> Any:
        try:
            return orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise HttpBadRequestError(f"Request body is not valid JSON: {exc}") from None

    async def create_json_response(
        self, request: Request, result: dict[str, Any], success: bool
    ) -> Response:
        """ariadne's status rule (200 once execution began, else 400), serialised by orjson."""
        status = 200 if success or result.get("data") is not None else 400
        return Response(orjson.dumps(result), status_code=status, media_type="application/json")

    async def extract_data_from_multipart_request(self, request: Request) -> dict[str, Any]:
        raise HttpBadRequestError(
            "multipart/form-data is not supported: this endpoint takes no file uploads"
        )


class _WebSocketHandler(GraphQLTransportWSHandler):
    """graphql-transport-ws, with the token taken from `connection_init`'s payload.

    Browsers cannot set headers on a WebSocket, so the protocol's convention is a payload like
    `{"Authorization": "Bearer <jwt>"}`; a refused one closes the socket with 4403 Forbidden.
    """

    def __init__(self, verifier: TokenVerifier | None) -> None:
        super().__init__()
        self._verifier = verifier

    async def handle_websocket_connection_init_message(
        self, websocket: WebSocket, message: dict[str, Any], client_context: Any
    ) -> None:
        if self._verifier is not None and not client_context.connection_init_received:
            payload = message.get("payload")
            header = None
            if isinstance(payload, dict):
                header = payload.get("Authorization") or payload.get("authorization")
            try:
                websocket.state.principal = self._verifier.verify(
                    header if isinstance(header, str) else None
                )
            except Unauthenticated as exc:
                await websocket.close(code=4403, reason=str(exc)[:120])
                return
        await super().handle_websocket_connection_init_message(websocket, message, client_context)


class QueryCache:
    """Parses each distinct query text once, and checks it against the spec's rules once.

    Clients send the same few query texts over and over with different variables, and
    graphql-core walks the whole document with ~30 validation rules every time: under load that
    was two thirds of each service's CPU (bench/RESULTS.md). A document depends only on its
    text, and the spec's rules only on (schema, document), so both results can be kept. Rules
    of our own (depth, cost) may depend on the request's variables; a service that wants their
    result kept too hands out the same rule classes for requests they judge alike, since the
    classes are part of the key. A failing document is never kept, and the whole validation
    runs again, so errors are exactly graphql-core's. Bounded LRUs, and only texts up to
    `max_query_chars`, so many distinct or huge queries cannot make it grow without bound.
    """

    def __init__(self, size: int = 256, max_query_chars: int = 8192) -> None:
        self._size = size
        self._max_chars = max_query_chars
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._valid: OrderedDict[tuple[Any, ...], DocumentNode] = OrderedDict()

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
        own = tuple(rule for rule in rules if rule not in _SPEC_RULES)
        # Keyed by identity: the entry holds the document, so its id cannot be reused meanwhile.
        key = (id(schema), id(document_ast))
        own_key = (*key, *own)
        if self._valid.get(key) is document_ast:
            self._valid.move_to_end(key)
            if not own or self._valid.get(own_key) is document_ast:
                return []
            errors = validate(schema, document_ast, own, max_errors)
        else:
            errors = validate(schema, document_ast, rules, max_errors)
            if not errors:
                _remember(self._valid, key, document_ast, self._size)
        if not errors and own:
            _remember(self._valid, own_key, document_ast, self._size)
        return errors


_SPEC_RULES = frozenset(specified_rules)


def _remember(
    cache: OrderedDict[Any, DocumentNode], key: Any, value: DocumentNode, size: int
) -> None:
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)


def mount_graphql(
    app: FastAPI,
    schema: GraphQLSchema,
    settings: HttpSettings,
    *,
    verifier: TokenVerifier | None,
    explorer: ExplorerGraphiQL,
    validation_rules: ValidationRules | None = None,
    websocket: bool = False,
) -> None:
    """Serve `schema` at exactly /graphql for HTTP (and WebSocket), behind the service's edge.

    `verifier` set = every POST (and WebSocket connection) needs a valid bearer token. In
    production mode introspection and the explorer are off; errors never carry tracebacks in
    either mode (ariadne's debug stays off). Parsing and spec validation go through a QueryCache.
    """
    guard_edge(app, settings)
    production = settings.production_mode
    graphql = GraphQL(
        schema,
        context_value=context,
        error_formatter=format_error,
        validation_rules=validation_rules,
        introspection=not production,
        explorer=ExplorerHttp405() if production else explorer,
        debug=False,
        http_handler=_HTTPHandler(verifier, settings.request_timeout_s),
        websocket_handler=_WebSocketHandler(verifier) if websocket else None,
    )
    cache = QueryCache()
    for handler in (graphql.http_handler, graphql.websocket_handler):
        handler.query_parser = cache.parse
        handler.query_validator = cache.validate
    # The GraphQL app is the route's ASGI endpoint itself: a request handler function would add
    # Starlette's per-request wrapping (a second Request, exception plumbing) for nothing.
    # First in line: every request to it would otherwise be matched against the others first.
    app.router.routes.insert(0, Route("/graphql", graphql, methods=["GET", "POST", "OPTIONS"]))
    if websocket:
        app.router.add_websocket_route("/graphql", graphql.handle_websocket)  # type: ignore[arg-type]
