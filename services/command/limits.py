"""A limit on how many mutations one request may carry.

Aliases let one request carry many mutations, each a command to decide and append. A few are a
convenience; hundreds would let one client monopolise the group-commit loop, and about a
thousand exceeded Python's recursion limit in graphql-core, which chains mutation fields with
one nested await each (a 500, found by the fuzz suite). So a request with more is refused
before it runs, with BAD_USER_INPUT.
"""

from __future__ import annotations

import itertools
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType
from graphql.language import SKIP, VisitorAction
from graphql.validation import ASTValidationRule, ValidationRule

from shared.adapters.graphql_http.selections import selected_fields

MAX_MUTATIONS = 10


def mutation_limit(maximum: int) -> type[ASTValidationRule]:
    class MutationLimit(ValidationRule):
        """Refuses mutation operations with more than `maximum` root fields, fragments included."""

        def enter_operation_definition(
            self, node: OperationDefinitionNode, *_: Any
        ) -> VisitorAction:
            if node.operation == OperationType.MUTATION:
                roots = selected_fields(self.context, node.selection_set, max_depth=0)
                # Counting stops one past the limit: that bounds the work too.
                count = sum(1 for _ in itertools.islice(roots, maximum + 1))
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

    return MutationLimit


MUTATION_LIMIT = mutation_limit(MAX_MUTATIONS)
