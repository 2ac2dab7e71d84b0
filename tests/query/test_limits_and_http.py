"""Query limits, the error contract for malformed requests, and the operational endpoints."""

from __future__ import annotations

import httpx
import pytest
from graphql import build_schema, get_introspection_query, parse, validate

from services.query.limits import MAX_COST, MAX_DEPTH, depth_limit
from tests.query.client import data, error_codes, gql


async def test_many_large_pages_in_one_request_exceed_the_cost_limit(
    http: httpx.AsyncClient,
) -> None:
    pages = " ".join(f"p{i}: products(first: 100) {{ totalCount }}" for i in range(5))
    body = await gql(http, f"{{ {pages} }}")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert f"maximum cost of {MAX_COST}" in body["errors"][0]["message"]
    assert "data" not in body


async def test_the_cost_counts_first_from_variables(http: httpx.AsyncClient) -> None:
    pages = " ".join(f"p{i}: products(first: $n) {{ totalCount }}" for i in range(5))
    query = f"query($n: Int) {{ {pages} }}"
    assert error_codes(await gql(http, query, n=100)) == ["BAD_USER_INPUT"]
    assert error_codes(await gql(http, query, n=10)) == []
    # The parse/validation cache remembers that the document passed with n=10, not for any n.
    assert error_codes(await gql(http, query, n=10)) == []
    assert error_codes(await gql(http, query, n=100)) == ["BAD_USER_INPUT"]


async def test_an_ordinary_page_is_well_within_the_limits(http: httpx.AsyncClient) -> None:
    query = """{ products(first: 100) { edges { cursor node { id sku name description
      price { amount currency } category tags version createdAt updatedAt } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount }
      categories { category } projectionStatus { lastEventTime } }"""
    await data(http, query)


async def test_graphiql_introspection_passes_the_limits(http: httpx.AsyncClient) -> None:
    result = await data(http, get_introspection_query(descriptions=True))
    assert result["__schema"]["queryType"]["name"] == "Query"


SCHEMA = build_schema("type Query { node: Node } type Node { id: ID child: Node }")


def nested(depth: int) -> str:
    """A query `depth` fields deep on its longest path, the root field and the leaf included."""
    return "{ node { " + "child { " * (depth - 2) + "id" + " }" * (depth - 2) + " } }"


@pytest.mark.parametrize("depth", [2, MAX_DEPTH])
def test_the_depth_limit_admits_up_to_the_limit(depth: int) -> None:
    assert validate(SCHEMA, parse(nested(depth)), [depth_limit(MAX_DEPTH)]) == []


def test_the_depth_limit_refuses_deeper_queries_also_through_fragments() -> None:
    errors = validate(SCHEMA, parse(nested(MAX_DEPTH + 1)), [depth_limit(MAX_DEPTH)])
    assert [e.message for e in errors] == [
        f"the query nests {MAX_DEPTH + 1} levels deep; at most {MAX_DEPTH} are allowed"
    ]
    # node, 3 + 6 child, id: 11 levels, split over two fragments and an inline fragment.
    fragments = """{ node { ...A } }
      fragment A on Node { child { child { child { ...B } } } }
      fragment B on Node { child { child { ... on Node {
        child { child { child { child { id } } } } } } } }"""
    errors = validate(SCHEMA, parse(fragments), [depth_limit(MAX_DEPTH)])
    assert len(errors) == 1 and errors[0].extensions == {"maxDepth": MAX_DEPTH}
    assert (
        validate(SCHEMA, parse(fragments.replace("child { id }", "id")), [depth_limit(MAX_DEPTH)])
        == []
    )


def test_a_fragment_cycle_does_not_hang_the_depth_limit() -> None:
    cyclic = "{ node { ...A } } fragment A on Node { child { ...A } }"
    assert (
        validate(SCHEMA, parse(cyclic), [depth_limit(MAX_DEPTH)]) == []
    )  # NoFragmentCycles reports it


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ nope }", {}),
        ('{ products(first: "x") { totalCount } }', {}),
        ("query($n: Int) { products(first: $n) { totalCount } }", {"n": "many"}),
        ("query($id: ID!) { product(id: $id) { id } }", {}),
        (
            "query($f: ProductFilter) { products(filter: $f) { totalCount } }",
            {"f": {"color": "red"}},
        ),
        ("{ products(sort: CHEAPEST) { totalCount } }", {}),
    ],
)
async def test_malformed_requests_are_bad_user_input_not_server_errors(
    http: httpx.AsyncClient, query: str, variables: dict[str, object]
) -> None:
    body = await gql(http, query, **variables)
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}, body


async def test_health_ready_and_metrics(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health")).json() == {"status": "ok"}
    ready = await http.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"mongodb": True, "change_feed": True}}
    metrics = await http.get("/metrics")
    assert metrics.status_code == 200 and "python_info" in metrics.text


async def test_browsers_get_the_graphiql_explorer(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


@pytest.mark.parametrize(
    ("field", "limit"), [("category", 100), ("tag", 50), ("nameContains", 200)]
)
async def test_filter_strings_are_bounded_like_the_write_side(
    http: httpx.AsyncClient, field: str, limit: int
) -> None:
    query = "query($f: ProductFilter) { products(filter: $f) { totalCount } }"
    assert error_codes(await gql(http, query, f={field: "x" * limit})) == []
    body = await gql(http, query, f={field: "x" * (limit + 1)})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == f"filter.{field}"
