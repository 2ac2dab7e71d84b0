"""GraphQL entrypoint of the command service: input → command → processor → answer."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, QueryType, make_executable_schema
from graphql import GraphQLSchema

from services.command.processor import CommandProcessor
from services.command.write_model import Answer
from shared.adapters.graphql_http import Info, load_sdl, principal
from shared.domain.commands import CreateProduct, DeleteProduct, parse, parse_update


def build_schema(processor: CommandProcessor) -> GraphQLSchema:
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
        return await _run(info, parse_update(input))

    @mutation.field("deleteProduct")
    async def delete(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        return await _run(info, parse(DeleteProduct, input))

    async def _run(info: Info, command: Any) -> dict[str, Any]:
        caller = principal(info)
        answer = await processor.handle(command, info.context["correlation_id"], caller.subject)
        return _result(answer)

    return make_executable_schema(load_sdl("command.graphql"), query, mutation)


def _result(answer: Answer) -> dict[str, Any]:
    position = answer.position
    return {
        "id": answer.id,
        "version": answer.version,
        "eventId": answer.event_id,
        "position": position and {"partition": position.partition, "offset": str(position.offset)},
    }
