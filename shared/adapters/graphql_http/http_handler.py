"""The HTTP side of both GraphQL endpoints: ariadne's handler with our edge rules."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from ariadne.asgi.handlers import GraphQLHTTPHandler
from ariadne.exceptions import HttpBadRequestError
from ariadne.types import GraphQLResult
from fastapi.responses import JSONResponse
from graphql import DocumentNode
from starlette.requests import Request
from starlette.responses import Response

from shared.adapters.auth import TokenVerifier, Unauthenticated
from shared.adapters.http import error_body


class HTTPHandler(GraphQLHTTPHandler):
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
