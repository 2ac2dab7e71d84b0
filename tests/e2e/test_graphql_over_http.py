"""Both GraphQL endpoints, as real processes, against the GraphQL-over-HTTP spec.

The conformance suite is the spec's reference one, graphql-http's `auditServer` (npm, pinned in
tools/graphql-http/package-lock.json), run with Node.js: any failed MUST (error) or SHOULD
(warning) fails the test. The README's table of status codes per media type is checked here
case by case, and so is every answer's body keeping the documented error codes.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.support import auth, npm
from tests.support.services import Service

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
# Every audit of graphql-http 1.23.1; a new version with other audits must be looked at first.
AUDITS = 61


def audit(url: str, authorization: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    """(exit code, one result per audit) of tools/graphql-http/audit.mjs against `url`."""
    tool = npm.install("graphql-http")
    env = {**os.environ}
    env.pop("AUDIT_AUTHORIZATION", None)
    if authorization is not None:
        env["AUDIT_AUTHORIZATION"] = authorization
    done = subprocess.run(
        [npm.require("node"), str(tool / "audit.mjs"), url],
        cwd=tool,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        results = [json.loads(line) for line in done.stdout.splitlines()]
    except json.JSONDecodeError:
        raise RuntimeError(f"the audit failed:\n{done.stdout}\n{done.stderr}") from None
    assert results, f"the audit ran nothing ({done.returncode}):\n{done.stderr}"
    return done.returncode, results


def failed(results: list[dict[str, Any]], *statuses: str) -> list[dict[str, Any]]:
    return [r for r in results if r["status"] in statuses]


@pytest.mark.parametrize("endpoint", ["command", "query"])
def test_the_reference_audit_finds_no_warning_and_no_error(stack: Stack, endpoint: str) -> None:
    service: Service = getattr(stack, endpoint)
    token = f"Bearer {auth.token()}" if endpoint == "command" else None
    code, results = audit(service.graphql_url, token)
    counts = {s: len(failed(results, s)) for s in ("ok", "notice", "warn", "error")}
    print(f"{endpoint}: graphql-http audit {counts}")
    assert len(results) == AUDITS, [r["id"] for r in results]
    assert failed(results, "warn", "error") == [] and code == 0, failed(results, "warn", "error")
    # What is left are MAYs about GET, which serves the explorer and executes nothing.
    assert {r["id"] for r in failed(results, "notice")} <= {"9C48", "D6D5", "6A70"}


def test_the_audit_is_not_a_rubber_stamp(stack: Stack) -> None:
    """Without a token the command endpoint answers 401 to everything: the audit must say so."""
    code, results = audit(stack.command.graphql_url)
    assert code == 1
    assert {r["id"] for r in failed(results, "error")} >= {"4655", "2C94", "03D4"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def post(
    http: httpx.AsyncClient, service: Service, body: Any, accept: str | None, token: bool = True
) -> httpx.Response:
    headers = {"Content-Type": "application/json", **(auth.headers() if token else {})}
    if accept is not None:
        headers["Accept"] = accept
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post(service.graphql_url, content=content, headers=headers)


UNKNOWN = "00000000-0000-4000-8000-000000000000"
UPDATE = "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { id } }"
# case: (endpoint, body, status under application/json, under graphql-response+json, codes)
CASES: dict[str, tuple[str, Any, int, int, list[str]]] = {
    "success": ("query", {"query": "{ __typename }"}, 200, 200, []),
    "a field error, data present": (
        "command",
        {"query": UPDATE, "variables": {"i": {"id": UNKNOWN, "name": "x"}}},
        200,
        200,
        ["NOT_FOUND"],
    ),
    "document does not parse": ("query", {"query": "{"}, 200, 400, ["BAD_USER_INPUT"]),
    "document does not validate": ("query", {"query": "{ nope }"}, 200, 400, ["BAD_USER_INPUT"]),
    "over the cost limit (our validation)": (
        "query",
        {
            "query": "{"
            + " ".join(f"p{i}: products(first: 100) {{ totalCount }}" for i in range(5))
            + " }"
        },
        200,
        400,
        ["BAD_USER_INPUT"],
    ),
    "variables do not coerce": (
        "query",
        {"query": "query($id: ID!) { product(id: $id) { id } }", "variables": {"id": None}},
        200,
        400,
        ["BAD_USER_INPUT"],
    ),
    "subscription over HTTP": (
        "query",
        {"query": f'subscription {{ productChanged(id: "{UNKNOWN}") {{ id }} }}'},
        200,
        400,
        ["BAD_USER_INPUT"],
    ),
    "query not a string": ("query", {"query": 1}, 400, 400, ["BAD_USER_INPUT"]),
    "extensions not a map": (
        "query",
        {"query": "{ __typename }", "extensions": "x"},
        400,
        400,
        ["BAD_USER_INPUT"],
    ),
    "body not an object": ("query", [{"query": "{ __typename }"}], 400, 400, ["BAD_USER_INPUT"]),
}


@pytest.mark.parametrize("case", CASES)
async def test_status_codes_per_media_type_as_the_readme_says(
    stack: Stack, http: httpx.AsyncClient, case: str
) -> None:
    endpoint, body, legacy_status, status, codes = CASES[case]
    service: Service = getattr(stack, endpoint)
    answers = {}
    for accept, expected_type, expected_status in (
        (None, JSON, legacy_status),
        ("*/*", JSON, legacy_status),
        (JSON, JSON, legacy_status),
        (f"{JSON}, {GRAPHQL_RESPONSE};q=0.5", JSON, legacy_status),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE, status),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9, */*;q=0.1", GRAPHQL_RESPONSE, status),
    ):
        response = await post(http, service, body, accept)
        assert response.status_code == expected_status, (accept, response.text)
        assert response.headers["content-type"] == expected_type, accept
        answers[accept] = answer = response.json()
        assert [e["extensions"]["code"] for e in answer.get("errors", ())] == codes, answer
        # Nothing executed (a 400 under graphql-response+json) = no data entry at all.
        assert ("data" in answer) == (status == 200), answer
    assert len({json.dumps(a, sort_keys=True) for a in answers.values()}) == 1, answers


async def test_refusals_before_graphql_keep_their_status_under_both(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    for accept in (JSON, GRAPHQL_RESPONSE):
        not_json = await post(http, stack.query, b'{"query": ', accept)
        assert not_json.status_code == 400 and not_json.headers["content-type"].startswith(
            "text/plain"
        )
        refused = await post(http, stack.command, {"query": "{ __typename }"}, accept, token=False)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == accept
        assert refused.headers["www-authenticate"] == 'Bearer realm="catalog"'
        assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["UNAUTHENTICATED"]
