"""Walking the fields a GraphQL operation selects, fragments expanded: the one walker behind the
services' own validation rules (the query depth limit, the mutation count limit).

graphql-core validates documents but ships no rule that bounds how much one request asks for;
both limits need the same walk: every field with its depth, inline fragments and fragment
spreads expanded in place, and the walk bounded so that a hostile document cannot make it long:
no deeper than the limit, each fragment expanded at most once per depth (spreading one fragment
twice at a depth selects the same fields again, which GraphQL merges into one), and a fragment
cycle cut where it closes (graphql-core's NoFragmentCyclesRule reports it).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    ValidationContext,
)


def selected_fields(
    context: ValidationContext,
    selections: SelectionSetNode | None,
    max_depth: int,
    depth: int = 1,
    expanded: set[tuple[str, int]] | None = None,
    spreading: frozenset[str] = frozenset(),
) -> Iterator[tuple[FieldNode, int]]:
    """Each field selected under `selections` with its depth (its own fields are at `depth`),
    down to `max_depth + 1` at most, so a caller sees that the limit was passed and no more.

    Introspection fields (`__schema`, `__type`, …) are left out: graphql-core's own
    MaxIntrospectionDepthRule bounds them.
    """
    if selections is None or depth > max_depth + 1:
        return
    expanded = set() if expanded is None else expanded
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            yield selection, depth
            yield from selected_fields(
                context, selection.selection_set, max_depth, depth + 1, expanded, spreading
            )
        elif isinstance(selection, InlineFragmentNode):
            yield from selected_fields(
                context, selection.selection_set, max_depth, depth, expanded, spreading
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is not None and name not in spreading and (name, depth) not in expanded:
                expanded.add((name, depth))
                yield from selected_fields(
                    context,
                    fragment.selection_set,
                    max_depth,
                    depth,
                    expanded,
                    spreading | {name},
                )
