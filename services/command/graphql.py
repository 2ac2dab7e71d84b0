"""GraphQL entrypoint of the command service: input → command → processor → answer."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, QueryType, make_executable_schema
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.language import SKIP, VisitorAction
from graphql.validation import ValidationRule

from services.command.processor import CommandProcessor
from services.command.write_model import Answer
from shared.adapters.graphql_http import Info, load_sdl, principal
from shared.domain.commands import CreateProduct, DeleteProduct, parse, parse_update

# Aliases let one request carry many mutations, each a command to decide and append; a few are
# a convenience, hundreds would let one client monopolise the group-commit loop. The schema has
# no nesting to speak of, so this is the only cost that matters on the write side.
MAX_MUTATIONS_PER_REQUEST = 10


class MutationLimit(ValidationRule):
    """Refuses a mutation operation with more than MAX_MUTATIONS_PER_REQUEST root fields,
    counted through inline fragments and fragment spreads (each fragment counted once)."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._fragments: dict[str, int] = {}

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> VisitorAction:
        if node.operation is OperationType.MUTATION:
            count = self._count(node.selection_set, frozenset())
            if count > MAX_MUTATIONS_PER_REQUEST:
                self.report_error(
                    GraphQLError(
                        f"{count} mutations in one request; at most "
                        f"{MAX_MUTATIONS_PER_REQUEST} are allowed",
                        node,
                        extensions={"maxMutations": MAX_MUTATIONS_PER_REQUEST},
                    )
                )
        return SKIP

    def _count(self, selections: SelectionSetNode, spreading: frozenset[str]) -> int:
        count = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                count += selection.name.value != "__typename"
            elif isinstance(selection, InlineFragmentNode):
                count += self._count(selection.selection_set, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment(selection.name.value, spreading)
        return count

    def _fragment(self, name: str, spreading: frozenset[str]) -> int:
        """A cycle counts 0 here: graphql-core's NoFragmentCyclesRule reports it."""
        if name not in self._fragments:
            fragment = self.context.get_fragment(name)
            if fragment is None or name in spreading:
                return 0
            self._fragments[name] = self._count(fragment.selection_set, spreading | {name})
        return self._fragments[name]


VALIDATION_RULES = [MutationLimit]


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
