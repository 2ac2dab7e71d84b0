"""The entrypoint other command instances use: a command forwarded to this partition's owner.

See forwarding.py for the wire format. The caller's bearer token comes along and is verified
here again, so an instance accepts nothing it would not accept from the client directly.
"""

from __future__ import annotations

import logging

import orjson
from asgi_correlation_id import correlation_id
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.command.forwarding import (
    PATH,
    answer_body,
    command_from,
    error_body,
    refusal_body,
)
from services.command.planning import IssuedCommand
from services.command.ports import OwnerMoved
from services.command.routing import CommandRouter
from shared.adapters import tracing
from shared.adapters.auth import TokenVerifier, Unauthenticated
from shared.errors import CatalogError

log = logging.getLogger(__name__)


def internal_routes(router: CommandRouter, verifier: TokenVerifier) -> list[Route]:
    async def forwarded(request: Request) -> Response:
        try:
            caller = verifier.verify(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return _json(refusal_body("UNAUTHENTICATED", str(exc)), 401)
        try:
            command = command_from(orjson.loads(await request.body()))
        except CatalogError as exc:
            return _json(error_body(exc), 200)
        except ValueError as exc:  # orjson's decode error is a ValueError too
            return _json(refusal_body("BAD_USER_INPUT", str(exc)), 400)
        issued = IssuedCommand(
            command, correlation_id.get() or "", caller.subject, trace=tracing.current()
        )
        try:
            answer = await router.decide_here(issued)
        except OwnerMoved as exc:
            return _json({"moved": str(exc)}, 409)
        except CatalogError as exc:
            return _json(error_body(exc), 200)
        return _json(answer_body(answer), 200)

    return [Route(PATH, forwarded, methods=["POST"])]


def _json(body: object, status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
