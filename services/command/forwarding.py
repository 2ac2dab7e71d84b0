"""The wire format of a command handed from one instance to its partition's owner.

`POST /internal/commands` on the owner, with the caller's own `Authorization` header (the owner
verifies it again and records its subject, exactly as if the caller had come to it directly),
`X-Correlation-ID` and the trace context (`traceparent`, `tracestate`: the owner's spans and the
events continue the caller's trace). The body names the command's type and carries its fields
as the GraphQL input had them, commandId and id included, so the owner decides the very same
command:

    {"type": "UpdateProduct", "command": {"id": "...", "commandId": "...", "changes": {...}}}

The reply is 200 with `{"answer": {...}}` or `{"error": {"code", "message", "extensions"}}`
(relayed to the client unchanged), or 409 when the owner does not own the partition (any more,
or yet): the sender waits for the group and routes the command again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.command.write_state import Answer
from shared.domain.commands import AnyCommand, CreateProduct, DeleteProduct, UpdateProduct
from shared.envelope import Position
from shared.errors import CatalogError, RelayedError

PATH = "/internal/commands"
COMMAND_TYPES: dict[str, type[BaseModel]] = {
    cls.__name__: cls for cls in (CreateProduct, UpdateProduct, DeleteProduct)
}


def command_body(command: AnyCommand) -> dict[str, Any]:
    # Only the fields the client sent (an update's unsent fields stay unsent), plus the two
    # the command filled in itself.
    data = command.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data.update(id=command.id, commandId=command.command_id)
    return {"type": type(command).__name__, "command": data}


def command_from(body: Any) -> AnyCommand:
    """The command a forwarded body carries; raises ValueError (or a DomainError) if it is not one."""
    if not isinstance(body, dict) or body.get("type") not in COMMAND_TYPES:
        raise ValueError("the body names no known command type")
    command: AnyCommand = COMMAND_TYPES[body["type"]].model_validate(body.get("command"))  # type: ignore[assignment]
    return command


def answer_body(answer: Answer) -> dict[str, Any]:
    position = answer.position
    return {
        "answer": {
            "id": answer.id,
            "version": answer.version,
            "eventId": answer.event_id,
            "position": position and [position.partition, position.offset],
        }
    }


def refusal_body(
    code: str, message: str, extensions: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "extensions": extensions or {}}}


def error_body(error: CatalogError) -> dict[str, Any]:
    return refusal_body(error.code, error.message, error.extensions)


def reply_from(body: Any) -> Answer:
    """The answer a reply carries; raises the error it carries, relayed as the owner gave it."""
    if "answer" in body:
        answer = body["answer"]
        position = answer["position"]
        return Answer(
            answer["id"],
            answer["version"],
            answer["eventId"],
            Position(*position) if position else None,
        )
    error = body["error"]
    raise RelayedError(error["code"], error["message"], error["extensions"])
