"""graphql-transport-ws with the bearer token taken from `connection_init`'s payload, and
subscriptions executed by shared_events.SharingExecutor."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

from ariadne.asgi.handlers import GraphQLTransportWSHandler
from ariadne.graphql import parse_query, subscribe, validate_data
from ariadne.types import Operation
from ariadne.utils import get_operation_type
from graphql import GraphQLError, OperationType
from starlette.websockets import WebSocket

from shared.adapters.auth import TokenVerifier, Unauthenticated
from shared.adapters.graphql_http.shared_events import SharedResult, SharingExecutor


def encode(message: Any) -> str:
    """JSON exactly as Starlette's `send_json` (which ariadne sends with) writes it."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def next_message(operation_id: str, result: SharedResult) -> str:
    """ariadne's `next` message of an error-free result, its payload encoded once per result.

    Byte for byte what ariadne's `send_json({"type": "next", "id": …, "payload": …})` sends.
    """
    if result.encoded is None:
        result.encoded = encode({"data": result.data} if result.data else {})
    return f'{{"type":"next","id":{encode(operation_id)},"payload":{result.encoded}}}'


class WebSocketHandler(GraphQLTransportWSHandler):
    """ariadne's graphql-transport-ws handler, checking the token of `connection_init`.

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

    async def observe_async_results(
        self,
        websocket: WebSocket,
        results_producer: AsyncGenerator[Any, None],
        operation_id: str,
        client_context: Any,
    ) -> None:
        """ariadne's, but an error-free SharedResult is sent here, encoded once for all its
        subscribers; ariadne sends everything else, ends the operation and handles errors."""

        async def unshared() -> AsyncGenerator[Any, None]:
            async for result in results_producer:
                if isinstance(result, SharedResult) and not result.errors:
                    await websocket.send_text(next_message(operation_id, result))
                else:
                    yield result

        await super().observe_async_results(websocket, unshared(), operation_id, client_context)

    async def handle_websocket_subscribe(
        self, websocket: WebSocket, data: Any, operation_id: str, client_context: Any
    ) -> None:
        """ariadne's, except that a subscription operation runs on SharingExecutor.

        ariadne calls graphql-core's `subscribe` with no way to choose the executor, so a valid
        subscription takes the few steps below, each as ariadne takes it; everything else (a
        message refused before it is executed, a query or mutation, a parse error, an
        `on_operation` hook) goes to ariadne's own method unchanged.
        """
        ariadne = super().handle_websocket_subscribe
        if (
            self.schema is None
            or self.on_operation is not None
            or not client_context.connection_acknowledged
            or operation_id in client_context.operations
        ):
            await ariadne(websocket, data, operation_id, client_context)
            return
        try:
            validate_data(data)
            context_value = await self.get_context_for_request(websocket, data)
            document = parse_query(context_value, self.query_parser, data)
            operation_type = get_operation_type(document, data.get("operationName"))
        except GraphQLError:
            await ariadne(websocket, data, operation_id, client_context)
            return
        if operation_type != OperationType.SUBSCRIPTION:
            await ariadne(websocket, data, operation_id, client_context)
            return
        success, results = await subscribe(
            self.schema,
            data,
            context_value=context_value,
            root_value=self.root_value,
            query_document=document,
            query_validator=self.query_validator,
            validation_rules=self.validation_rules,
            debug=self.debug,
            introspection=self.introspection,
            logger=self.logger,
            error_formatter=self.error_formatter,
            executor_class=SharingExecutor,
        )
        if not success or isinstance(results, list):
            await websocket.send_json(
                {
                    "type": GraphQLTransportWSHandler.GQL_ERROR,
                    "id": operation_id,
                    "payload": results if isinstance(results, list) else [results],
                }
            )
            return
        client_context.operations[operation_id] = Operation(
            id=operation_id, name=data.get("operationName"), generator=results
        )
        client_context.operation_tasks[operation_id] = asyncio.ensure_future(
            self.observe_async_results(websocket, results, operation_id, client_context)
        )
