"""Completing plain sub-selections in one pass instead of field by field.

graphql-core completes every field of a result the same general way: it builds a resolve info,
calls the field's resolver (for almost every field below the root the default one, a key
lookup), checks what came back, coerces it and recurses. For a page of 20 products that
machinery was about a third of what a `products` query cost the query service, ten times what
building the same result directly costs (bench/RESULTS.md).

A sub-selection is *plain* when every field in it, at every depth, is resolved by graphql-core's
default resolver, no directive or deferral appears in it, and no type in it is abstract or
checks its values (`is_type_of`). For a plain sub-selection the result depends only on the
value being completed, so it is compiled once per selection (the parsed documents are cached
per query text, so the same nodes come back with every request) into nested functions that do
what graphql-core would do for a mapping: look each field up by name, coerce leaves with the
type's own `coerce_output_value`, keep null where null is allowed.

Anything graphql-core would report as an error — a null in a non-null position, a value a
scalar refuses, something that is not a mapping or a list where one is due, a callable or an
exception where a value is due — makes the compiled path give up on that value, and
graphql-core completes it again from the start, producing its own errors with their paths. The
default resolver has no side effects, so doing that work twice changes nothing but the time.
tests/unit/test_plain_completion.py holds the results to graphql-core's own, errors included,
over generated documents and data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cachetools import LRUCache
from graphql import (
    DirectiveNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
    default_field_resolver,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)

from shared.adapters import private_api

Completer = Callable[[Any], Any]
_TYPENAME = "__typename"


class _NotPlain(Exception):
    """This value is not what a plain completion can take: graphql-core completes it."""


class PlainCompletingExecutor(private_api.QueryExecutor):
    """graphql-core's executor, completing plain sub-selections with compiled functions."""

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        complete = _plan(self, return_type, field_details_list)
        if complete is not None:
            try:
                return complete(result)
            except _NotPlain:
                pass
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )


# Compiled selections by (type, identity of their field nodes); None for one that is not plain.
# Each entry keeps its nodes, so that a node's id cannot be reused by another document while it
# is cached; bounded, as the parsed documents are.
_PLANS: LRUCache[tuple[Any, ...], tuple[tuple[FieldNode, ...], Completer | None]] = LRUCache(
    maxsize=4096
)


def _plan(
    executor: Any, return_type: GraphQLOutputType, field_details_list: Any
) -> Completer | None:
    nodes = tuple(details.node for details in field_details_list)
    key = (return_type, *map(id, nodes))
    cached = _PLANS.get(key)
    if cached is not None and all(a is b for a, b in zip(cached[0], nodes, strict=True)):
        return cached[1]
    complete = _compile(executor, return_type, field_details_list)
    _PLANS[key] = (nodes, complete)
    return complete


def _compile(
    executor: Any, return_type: GraphQLOutputType, field_details_list: Any
) -> Completer | None:
    """A function completing values of `return_type` for this selection, or None if it is not
    plain."""
    if is_non_null_type(return_type):
        assert isinstance(return_type, GraphQLNonNull)
        inner = _compile(executor, return_type.of_type, field_details_list)
        return None if inner is None else _non_null(inner)
    if is_list_type(return_type):
        assert isinstance(return_type, GraphQLList)
        inner = _compile(executor, return_type.of_type, field_details_list)
        return None if inner is None else _list(inner)
    if is_leaf_type(return_type):
        assert isinstance(return_type, GraphQLLeafType)
        return _leaf(return_type)
    if not is_object_type(return_type):
        return None  # an interface or a union: graphql-core resolves the runtime type
    assert isinstance(return_type, GraphQLObjectType)
    return _object(executor, return_type, field_details_list)


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise _NotPlain
        return completed

    return complete


def _list(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise _NotPlain
        return [inner(item) for item in value]

    return complete


def _leaf(leaf_type: GraphQLLeafType) -> Completer:
    coerce = leaf_type.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, Exception):
            raise _NotPlain
        try:
            coerced = coerce(value)
        except Exception:
            raise _NotPlain from None
        if coerced is None or coerced is Undefined:
            raise _NotPlain
        return coerced

    return complete


def _object(
    executor: Any, object_type: GraphQLObjectType, field_details_list: Any
) -> Completer | None:
    if object_type.is_type_of is not None:
        return None
    if any(
        details.defer_usage is not None or details.fragment_variable_values is not None
        for details in field_details_list
    ):
        return None
    if any(
        _has_directives(details.node.selection_set, executor.fragments)
        for details in field_details_list
    ):
        return None  # @include/@skip depend on the variables: not the same for every request
    collected = executor.collect_subfields(object_type, field_details_list)
    if collected.new_defer_usages or collected.forbidden_directive_instances:
        return None
    fields: list[tuple[str, str, Completer | None]] = []
    for response_key, sub_details in collected.grouped_field_set.items():
        name = sub_details[0].node.name.value
        if name == _TYPENAME:
            fields.append((response_key, name, None))
            continue
        field = object_type.fields.get(name)
        if field is None or field.resolve not in (None, default_field_resolver):
            return None
        sub = _compile(executor, field.type, sub_details)
        if sub is None:
            return None
        fields.append((response_key, name, sub))
    type_name = object_type.name

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise _NotPlain  # graphql-core would read attributes, or report an error
        completed = {}
        for response_key, name, sub in fields:
            if sub is None:
                completed[response_key] = type_name
                continue
            item = value.get(name)
            if callable(item):
                raise _NotPlain  # the default resolver would call it
            completed[response_key] = sub(item)
        return completed

    return complete


def _has_directives(selection_set: SelectionSetNode | None, fragments: Mapping[str, Any]) -> bool:
    if selection_set is None:
        return False
    for selection in selection_set.selections:
        directives: tuple[DirectiveNode, ...] = tuple(selection.directives or ())
        if directives:
            return True
        if isinstance(selection, FragmentSpreadNode):
            details = fragments.get(selection.name.value)
            if details is None or details.definition.directives:
                return True
            if _has_directives(details.definition.selection_set, fragments):
                return True
        elif isinstance(selection, FieldNode | InlineFragmentNode) and _has_directives(
            selection.selection_set, fragments
        ):
            return True
    return False
