"""GraphQL over HTTP as the GraphQL-over-HTTP spec has it: media types and status codes.

A client that accepts `application/graphql-response+json` (the spec's own media type) gets it,
and with it status codes that say whether anything ran: 200 when the response has a `data`
entry (even `null`), 400 when it has none (a document that does not parse or validate, or
variables that do not coerce: nothing was executed). Any other client gets `application/json`
and 200 for every well-formed request, whatever GraphQL errors it has, since a legacy client
reads the body, not the status. Under both, a request that is not a GraphQL-over-HTTP request at
all (no JSON object body, `query` not a string, ...) answers 400, a refused token 401. The body
is the same under either media type. README "Errors" has the whole table.
"""

from __future__ import annotations

import asyncio
from typing import Any

import mimeparse
import orjson
from ariadne.asgi.handlers import GraphQLHTTPHandler
from ariadne.exceptions import HttpBadRequestError, HttpError
from ariadne.types import GraphQLResult
from graphql import DocumentNode
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from shared.adapters.auth import TokenVerifier, Unauthenticated
from shared.adapters.http import error_body

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def response_media_type(accept: str | None) -> str:
    """`application/graphql-response+json` when the Accept header names it, with a quality at
    least that of `application/json`; otherwise `application/json`, which the spec prescribes
    for a missing Accept header and for `*/*` (a wildcard does not opt a legacy client in)."""
    if not accept:
        return JSON
    try:
        ranges = [mimeparse.parse_media_range(part) for part in accept.split(",") if part.strip()]
    except ValueError:  # an unparseable header: answer as if there were none
        return JSON
    named = any((t, s) == ("application", "graphql-response+json") for t, s, _ in ranges)
    wanted = float(mimeparse.quality_parsed(GRAPHQL_RESPONSE_JSON, ranges))
    if named and wanted > 0 and wanted >= float(mimeparse.quality_parsed(JSON, ranges)):
        return GRAPHQL_RESPONSE_JSON
    return JSON


def request_problem(data: Any) -> str | None:
    """Why `data` is not a well-formed GraphQL-over-HTTP request, or None if it is.

    The messages are ariadne's own (which checks the same after us), plus `extensions`, which
    the spec requires to be a map when present and ariadne does not check.
    """
    if not isinstance(data, dict):
        return "Operation data should be a JSON object"
    query, operation_name = data.get("query"), data.get("operationName")
    if not query or not isinstance(query, str):
        return "The query must be a string."
    if data.get("variables") is not None and not isinstance(data["variables"], dict):
        return "Query variables must be a null or an object."
    if operation_name is not None and not isinstance(operation_name, str):
        return f'"{operation_name}" is not a valid operation name.'
    if data.get("extensions") is not None and not isinstance(data["extensions"], dict):
        return "Request extensions must be a null or an object."
    return None


def graphql_response(body: dict[str, Any], status: int, media_type: str) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type)


class HTTPHandler(GraphQLHTTPHandler):
    """ariadne's HTTP handler with the spec's media types and status codes, checking the bearer
    token before a POST is even read, and bounding each execution in time.

    - A refused token answers 401 before the body is parsed, so an unauthenticated caller gets
      no validation feedback and costs next to nothing.
    - The timeout answers a GraphQL error (REQUEST_TIMEOUT, retriable) with `data: null`, since
      execution had begun, instead of holding the connection; on the command service it is
      longer than COMMAND_TIMEOUT_S, whose own answer (with the commandId to retry) comes first.
    - The body is parsed with orjson. The standard library's parser (ariadne's) raises
      RecursionError on JSON nested a few thousand levels deep, which ariadne does not catch;
      orjson stops at 1024 levels with a decode error. orjson also refuses lone surrogates
      ("\\ud800"): valid JSON escapes, but not Unicode text, so they cannot be encoded as UTF-8
      for MongoDB, Kafka or the response and failed wherever they went first.
    - multipart/form-data (GraphQL file uploads) is refused: no schema here takes an Upload,
      and ariadne would need python-multipart, which is not installed, to parse one.
    - Subscriptions over HTTP (ariadne's SSE handlers) are not offered: they run over WebSocket.
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
            response = graphql_response(
                error_body("UNAUTHENTICATED", str(exc)),
                401,
                response_media_type(request.headers.get("accept")),
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="catalog"'
            return response
        return None

    async def graphql_http_server(self, request: Request) -> Response:
        """ariadne's request flow (extract, execute, respond) with the spec's status codes."""
        media_type = response_media_type(request.headers.get("accept"))
        try:
            data = await self.extract_data_from_request(request)
        except HttpError as error:
            return PlainTextResponse(error.message or error.status, status_code=400)
        problem = request_problem(data)
        if problem is not None:
            return graphql_response(error_body("BAD_USER_INPUT", problem), 400, media_type)
        _, result = await self.execute_graphql_query(request, data)
        executed = "data" in result
        status = 200 if executed or media_type == JSON else 400
        return graphql_response(result, status, media_type)

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
                success, result = await super().execute_graphql_query(
                    request, data, context_value=context_value, query_document=query_document
                )
        except TimeoutError:
            message = f"the request did not finish within {self._timeout_s:g} s; retry later"
            return False, {"data": None, **error_body("REQUEST_TIMEOUT", message, retriable=True)}
        if result.get("data") is None and not any("path" in e for e in result.get("errors", ())):
            # Errors without a path, and no data: the request failed before execution began
            # (variables that do not coerce; graphql-core still answers `data: null` there). The
            # GraphQL spec leaves `data` out of such a response, which is what tells a
            # graphql-response+json client that nothing ran.
            result.pop("data", None)
        return success, result

    async def extract_data_from_json_request(self, request: Request) -> Any:
        try:
            return orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise HttpBadRequestError(f"Request body is not valid JSON: {exc}") from None

    async def extract_data_from_multipart_request(self, request: Request) -> dict[str, Any]:
        raise HttpBadRequestError(
            "multipart/form-data is not supported: this endpoint takes no file uploads"
        )
