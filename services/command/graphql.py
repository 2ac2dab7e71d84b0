"""GraphQL entrypoint of the command service: input → command → router → answer.

Reshaping the GraphQL input into commands happens here (an update's changes sit beside its id
in the input), so the domain's commands know nothing of GraphQL.
"""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, QueryType, make_executable_schema
from graphql import GraphQLSchema

from services.command.planning import IssuedCommand
from services.command.routing import CommandRouter
from services.command.write_state import Answer
from shared.adapters import tracing
from shared.adapters.graphql_http import Info, load_sdl, principal
from shared.domain.commands import (
    AnyCommand,
    CreateProduct,
    DeleteProduct,
    ProductChanges,
    UpdateProduct,
    parse,
)

_UPDATE_META = ("id", "expectedVersion", "commandId")


def build_schema(router: CommandRouter) -> GraphQLSchema:
    query = QueryType()
    mutation = MutationType()

    @query.field("ping")
    def ping(*_: Any) -> str:
        return "pong"

    @mutation.field("createProduct")
    async def create(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        return await _run(info, parse(CreateProduct, input))

    @mutation.field("updateProduct")
    async def update(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        return await _run(info, update_command(input))

    @mutation.field("deleteProduct")
    async def delete(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        return await _run(info, parse(DeleteProduct, input))

    async def _run(info: Info, command: AnyCommand) -> dict[str, Any]:
        caller = principal(info)
        issued = IssuedCommand(
            command, info.context["correlation_id"], caller.subject, trace=tracing.current()
        )
        authorization = info.context["request"].headers.get("authorization")
        return _result(await router.handle(issued, authorization))

    return make_executable_schema(load_sdl("command.graphql"), query, mutation)


def update_command(data: dict[str, Any]) -> UpdateProduct:
    """An update's changes sit beside its id in the GraphQL input; split them out (first, so
    a bad change names its field as the client sent it: `price.amount`, not `changes.…`)."""
    meta: dict[str, Any] = {k: data[k] for k in _UPDATE_META if k in data}
    changes = parse(ProductChanges, {k: v for k, v in data.items() if k not in meta})
    return parse(UpdateProduct, {**meta, "changes": changes})


def _result(answer: Answer) -> dict[str, Any]:
    position = answer.position
    return {
        "id": answer.id,
        "version": answer.version,
        "eventId": answer.event_id,
        "position": position and {"partition": position.partition, "offset": str(position.offset)},
    }
