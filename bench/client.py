"""A small asyncio GraphQL client (aiohttp + orjson) for the end-to-end lag, where each request
depends on the answer to the one before, which wrk cannot do. It runs in the bench's own
process, apart from the services."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

CREATE = "mutation($in: CreateProductInput!) { createProduct(input: $in) { id version } }"


class GraphQLError(RuntimeError):
    pass


async def call(
    session: aiohttp.ClientSession,
    url: str,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> dict[str, Any]:
    body = orjson.dumps({"query": query, "variables": variables})
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with session.post(url, data=body, headers=headers) as r:
        payload = orjson.loads(await r.read())
    if payload.get("errors"):
        raise GraphQLError(str(payload["errors"])[:500])
    data: dict[str, Any] = payload["data"]
    return data
