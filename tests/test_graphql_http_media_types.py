"""shared.adapters.graphql_http.http_handler: which media type a client's Accept header gets,
and which bodies are not GraphQL-over-HTTP requests at all (tests/e2e has the whole exchange)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.graphql_http.http_handler import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    request_problem,
    response_media_type,
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("text/html", JSON),
        ("not a media type", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/json;q=0.9, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0.5, application/json", JSON),
        ("application/graphql-response+json;q=0, */*", JSON),
        ("application/graphql-response+json, */*;q=0.1", GRAPHQL_RESPONSE_JSON),
    ],
)
def test_the_spec_media_type_only_for_clients_that_name_it(
    accept: str | None, expected: str
) -> None:
    assert response_media_type(accept) == expected


@pytest.mark.parametrize(
    "data",
    [
        [],
        "x",
        {},
        {"query": ""},
        {"query": 1},
        {"query": "{ a }", "variables": []},
        {"query": "{ a }", "operationName": 0},
        {"query": "{ a }", "extensions": "x"},
    ],
)
def test_malformed_requests_are_named(data: Any) -> None:
    assert request_problem(data)


def test_well_formed_requests_pass() -> None:
    assert request_problem({"query": "{ a }"}) is None
    nulls = {"variables": None, "operationName": None, "extensions": None}
    assert request_problem({"query": "{ a }", **nulls}) is None
    full = {"variables": {"a": 1}, "operationName": "A", "extensions": {"x": 1}}
    assert request_problem({"query": "query A { a }", **full}) is None
