"""graphql-transport-ws with the bearer token taken from `connection_init`'s payload."""

from __future__ import annotations

from typing import Any

from ariadne.asgi.handlers import GraphQLTransportWSHandler
from starlette.websockets import WebSocket

from shared.adapters.auth import TokenVerifier, Unauthenticated


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
