"""Calling the GraphQL endpoint in tests."""

from __future__ import annotations

from typing import Any

import httpx

Document = dict[str, Any]


async def gql(http: httpx.AsyncClient, query: str, **variables: Any) -> Document:
    """The whole GraphQL response (data and errors)."""
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body: Document = response.json()
    return body


async def data(http: httpx.AsyncClient, query: str, **variables: Any) -> Document:
    """The response's data, failing the test on any error."""
    body = await gql(http, query, **variables)
    assert "errors" not in body, body["errors"]
    result: Document = body["data"]
    return result


def error_codes(body: Document) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", ())]
