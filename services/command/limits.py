"""A limit on how many mutations one request may carry.

Aliases let one request carry many mutations, each a command to decide and append. A few are a
convenience; hundreds would let one client monopolise the group-commit loop, and about a
thousand exceeded Python's recursion limit in graphql-core, which chains mutation fields with
one nested await each (a 500, found by the fuzz suite). So a request with more is refused
before it runs, with BAD_USER_INPUT.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.language import SKIP, VisitorAction
from graphql.validation import ASTValidationRule, ValidationRule

MAX_MUTATIONS = 10


def mutation_limit(maximum: int) -> type[ASTValidationRule]:
    class MutationLimit(ValidationRule):
        """Refuses mutation operations with more than `maximum` root fields, fragments included."""

        def enter_operation_definition(
            self, node: OperationDefinitionNode, *_: Any
        ) -> VisitorAction:
            if node.operation == OperationType.MUTATION:
                count = self._count(node.selection_set, frozenset(), 0)
                if count > maximum:
                    self.report_error(
                        GraphQLError(
                            f"the request has more than {maximum} mutations; "
                            f"at most {maximum} are allowed in one request",
                            node,
                            extensions={"maxMutations": maximum},
                        )
                    )
            return SKIP

        def _count(self, selections: SelectionSetNode, spreading: frozenset[str], seen: int) -> int:
            """Root fields so far, stopping once past the limit (bounds the work too).

            A fragment cycle counts nothing more: graphql-core's NoFragmentCyclesRule reports it.
            """
            for selection in selections.selections:
                if seen > maximum:
                    break
                if isinstance(selection, FieldNode):
                    seen += 1
                elif isinstance(selection, InlineFragmentNode):
                    seen = self._count(selection.selection_set, spreading, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is not None and name not in spreading:
                        seen = self._count(fragment.selection_set, spreading | {name}, seen)
            return seen

    return MutationLimit


MUTATION_LIMIT = mutation_limit(MAX_MUTATIONS)
