"""Limits that reject abusive queries before they run: nesting depth and estimated cost.

Cost is ariadne's cost validator with a cost map: every root field costs something, `products`
costs as many units as rows it may return, and `totalCount` (a count over the whole filtered
set) a fixed extra. Nested fields cost nothing more, since they read no further documents.
That bounds how much MongoDB work one request can ask for, aliases included.

Depth is a small rule written here because neither graphql-core nor ariadne ships one.
The current schema has no cycles, so legitimate queries nest at most five levels; the limit
guards the schema as it grows. Introspection fields are left to graphql-core's own
MaxIntrospectionDepthRule, so GraphiQL's deep introspection query still works.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any, cast

from ariadne.validation.query_cost import CostValidator
from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    ValidationContext,
)
from graphql.language import SKIP, VisitorAction
from graphql.validation import ASTValidationRule, ValidationRule

from shared.adapters.graphql_http.selections import selected_fields

MAX_DEPTH = 10
MAX_COST = 500

COST_MAP: dict[str, dict[str, Any]] = {
    "Query": {
        "product": {"complexity": 1},
        "products": {"complexity": 1, "multipliers": ["first"]},
        "productHistory": {"complexity": 5},
        "productAt": {"complexity": 5},
        "categories": {"complexity": 2},
        "projectionStatus": {"complexity": 1},
    },
    "ProductConnection": {"totalCount": {"complexity": 10, "use_multipliers": False}},
    "Subscription": {"productChanged": {"complexity": 10}},
}


def depth_limit(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimit(ValidationRule):
        """Refuses operations whose fields nest deeper than `max_depth`, fragments included."""

        def enter_operation_definition(
            self, node: OperationDefinitionNode, *_: Any
        ) -> VisitorAction:
            fields = selected_fields(self.context, node.selection_set, max_depth)
            depth = max((d for _, d in fields), default=0)
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"the query nests {depth} levels deep; at most {max_depth} are allowed",
                        node,
                        extensions={"maxDepth": max_depth},
                    )
                )
            return SKIP

    return DepthLimit


class _CoercionErrorsLeftToSpecRules:
    """A validation context that drops reports of argument values that fail to coerce.

    Ariadne's cost validator coerces every argument to read `first`, and reports each value
    it cannot coerce (an invalid literal, a missing variable). graphql-core's own rules and
    variable coercion already report those, precisely; the cost validator's copies would only
    repeat them, wrapped so that they look like server errors.
    """

    def __init__(self, context: ValidationContext) -> None:
        self._context = context

    def report_error(self, error: GraphQLError) -> None:
        if not isinstance(error.original_error, GraphQLError):
            self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


@functools.lru_cache(maxsize=256)
def cost_limit(maximum: int, variables: tuple[tuple[str, int], ...]) -> type[ASTValidationRule]:
    """The cost rule for requests whose integer variables are `variables`.

    Only integers can be multipliers (`first`), so requests differing in other variables share
    one rule class; and since the class is the same object, QueryCache remembers that a
    document passed it and skips the walk next time, which building a class and walking the
    document per request would cost (bench/RESULTS.md).
    """
    values = dict(variables)

    class CostLimit(CostValidator):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context, maximum, cost_map=COST_MAP, variables=values)
            self.context = cast(ValidationContext, _CoercionErrorsLeftToSpecRules(context))

    return CostLimit


_DEPTH_RULE = depth_limit(MAX_DEPTH)


def validation_rules(
    _context: Any, _document: DocumentNode, data: dict[str, Any]
) -> Collection[type[ASTValidationRule]]:
    """Rules for one request; the cost rule needs its integer variables to know `first`."""
    variables = data.get("variables")
    integers: tuple[tuple[str, int], ...] = ()
    if isinstance(variables, dict):
        integers = tuple(
            sorted(
                (name, value)
                for name, value in variables.items()
                if isinstance(value, int) and not isinstance(value, bool)
            )
        )
    return [_DEPTH_RULE, cost_limit(MAX_COST, integers)]
