"""PlainCompletingExecutor gives exactly graphql-core's results (shared/adapters/graphql_http/
plain_completion.py): data and errors, with their messages, paths and locations.

Over the query service's own schema with generated documents (fields, aliases, repeated fields,
`__typename`, inline and named fragments, @include/@skip on variables) and generated values for
every field: right ones, nulls where none may be, values a scalar refuses, the wrong shapes and
callables, so that every way out of the compiled path is taken as well as the path itself.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from ariadne import ObjectType, QueryType, make_executable_schema
from graphql import (
    ExecutionResult,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    execute,
    parse,
    validate,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.query.scalars import datetime_scalar
from shared.adapters.graphql_http import load_sdl
from shared.adapters.graphql_http.plain_completion import PlainCompletingExecutor

ROOTS = {
    "product": '(id: "p")',
    "products": "",
    "productHistory": '(id: "p")',
    "productAt": '(id: "p", at: "2026-01-01T00:00:00Z")',
    "categories": "",
    "projectionStatus": "",
}
VARIABLES = {"yes": True, "no": False}


def schema_over(data: dict[str, Any]) -> GraphQLSchema:
    """The query schema, each root field answering data[its name]; one field below the root
    (ProductEdge.cursor) with a resolver of its own, which no compiled completion may skip."""
    query = QueryType()
    for name in ROOTS:
        query.set_field(name, lambda _root, info, **_args: data[info.field_name])
    edge = ObjectType("ProductEdge")
    edge.set_field("cursor", lambda source, _info: source.get("cursor") if source else None)
    return make_executable_schema(load_sdl("query.graphql"), query, edge, datetime_scalar)


ANSWERS: dict[str, Any] = {}  # what the root fields of SCHEMA answer, set by each example
SCHEMA = schema_over(ANSWERS)


def named(t: GraphQLOutputType) -> GraphQLNamedType:
    while isinstance(t, GraphQLNonNull | GraphQLList):
        t = t.of_type
    return t


def values(t: GraphQLOutputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values a resolver might hand back for type `t`: mostly fitting, sometimes not."""
    if isinstance(t, GraphQLNonNull):
        return st.one_of(values(t.of_type, depth), st.none())
    wrong = st.sampled_from(["text", 7, {"k": 1}, lambda *_a, **_k: "called", ValueError("boom")])
    if isinstance(t, GraphQLList):
        items = st.lists(values(t.of_type, depth + 1), max_size=3)
        return st.one_of(items, items.map(tuple), st.none(), wrong)
    if isinstance(t, GraphQLEnumType):
        return st.one_of(st.sampled_from(list(t.values)), st.none(), st.just("BOGUS"), wrong)
    if isinstance(t, GraphQLScalarType):
        fitting: dict[str, st.SearchStrategy[Any]] = {
            "String": st.text(max_size=3),
            "ID": st.one_of(st.text(max_size=3), st.integers(0, 9)),
            "Int": st.one_of(st.integers(-3, 3), st.just(2**40), st.just(1.5)),
            "Float": st.floats(allow_nan=False, allow_infinity=False),
            "Boolean": st.booleans(),
            "DateTime": st.datetimes(timezones=st.just(UTC)),
            "JSON": st.one_of(st.integers(), st.dictionaries(st.text(max_size=2), st.integers())),
        }
        return st.one_of(fitting[t.name], st.none(), wrong)
    assert isinstance(t, GraphQLObjectType)
    if depth > 4:
        return st.none()
    fields = {name: values(field.type, depth + 1) for name, field in t.fields.items()}
    documents = st.fixed_dictionaries({}, optional=fields)
    return st.one_of(documents, documents, st.none(), wrong)


@st.composite
def selection(draw: st.DrawFn, t: GraphQLObjectType, fragments: list[str], depth: int = 0) -> str:
    """A selection set on `t`, with the definitions of the named fragments it spreads added to
    `fragments`."""
    parts = []
    for name in draw(st.lists(st.sampled_from([*t.fields, "__typename"]), min_size=1, max_size=4)):
        alias = draw(st.sampled_from(["", "", f"a{depth}_{name[:2]}: "]))
        directive = draw(
            st.sampled_from(
                ["", "", "", " @include(if: $yes)", " @skip(if: $yes)", " @skip(if: $no)"]
            )
        )
        field = f"{alias}{name}{directive}"
        target = named(t.fields[name].type) if name != "__typename" else None
        if isinstance(target, GraphQLObjectType):
            if depth > 3:
                continue
            field += " " + draw(selection(target, fragments, depth + 1))
        wrap = draw(st.sampled_from(["plain", "plain", "inline", "named"]))
        if wrap == "inline":
            field = f"... on {t.name} {{ {field} }}"
        elif wrap == "named":
            fragment = f"F{len(fragments)}"
            fragments.append(f"fragment {fragment} on {t.name} {{ {field} }}")
            field = f"...{fragment}"
        parts.append(field)
    return "{ " + " ".join(parts or ["__typename"]) + " }"


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    query_type = SCHEMA.query_type
    assert query_type is not None
    root = draw(st.sampled_from(list(ROOTS)))
    field_type = query_type.fields[root].type
    fragments: list[str] = []
    sub = ""
    if isinstance(named(field_type), GraphQLObjectType):
        sub = draw(selection(named(field_type), fragments))  # type: ignore[arg-type]
    document = (
        "query($yes: Boolean!, $no: Boolean!) { "
        f"r1: {root}{ROOTS[root]} {sub} "
        f"r2: {root}{ROOTS[root]} {sub} "
        "} " + " ".join(fragments)
    )
    return document, {root: draw(values(field_type))}


def outcome(result: ExecutionResult) -> tuple[Any, list[tuple[Any, ...]]]:
    errors = [(e.message, e.path, e.locations) for e in result.errors or ()]
    return result.data, errors


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_results_are_graphql_cores_own(case: tuple[str, dict[str, Any]]) -> None:
    text, data = case
    document = parse(text)
    ANSWERS.clear()
    ANSWERS.update(data)
    schema = SCHEMA
    assume(not validate(schema, document))
    expected = execute(schema, document, variable_values=VARIABLES)
    assert isinstance(expected, ExecutionResult)
    for _ in range(2):  # compiling, then from the compiled selections
        got = execute(
            schema, document, variable_values=VARIABLES, executor_class=PlainCompletingExecutor
        )
        assert isinstance(got, ExecutionResult)
        assert outcome(got) == outcome(expected)


def test_a_directive_on_a_variable_is_decided_per_request() -> None:
    product = {"id": "p", "name": "n", "sku": "s", "price": {"amount": "1", "currency": "EUR"}}
    schema = schema_over({"product": product})
    document = parse('query($show: Boolean!) { product(id: "p") { id name @include(if: $show) } }')
    for show in (True, False, True):
        got = execute(
            schema, document, variable_values={"show": show}, executor_class=PlainCompletingExecutor
        )
        assert isinstance(got, ExecutionResult)
        assert got.data == {"product": {"id": "p", **({"name": "n"} if show else {})}}


def test_a_page_of_products_is_completed_without_graphql_core_per_field() -> None:
    """The compiled path is taken: a page's edges are completed in one call."""
    node = {
        "id": "p",
        "name": "n",
        "price": {"amount": "1.00", "currency": "EUR"},
    }
    page = {"edges": [{"cursor": "c", "node": node}] * 20, "pageInfo": {"hasNextPage": False}}
    schema = schema_over({"products": page})
    document = parse(
        "{ products { edges { node { id name price { amount currency } } }"
        " pageInfo { hasNextPage } } }"
    )
    calls = 0

    class Counting(PlainCompletingExecutor):
        def complete_value(self, *args: Any) -> Any:
            nonlocal calls
            calls += 1
            return super().complete_value(*args)

    got = execute(schema, document, executor_class=Counting)
    assert isinstance(got, ExecutionResult) and not got.errors
    edges = [{"node": node}] * 20
    assert got.data == {"products": {"edges": edges, "pageInfo": {"hasNextPage": False}}}
    assert calls == 1  # the root field's value, and nothing below it one by one
