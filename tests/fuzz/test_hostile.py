"""Hand-picked hostile requests: malformed bodies, wrong content types, huge and deeply nested
documents, many aliases, out-of-range numbers, lone surrogates, forged cursors.

Each must be refused clearly, with a 4xx or with GraphQL errors carrying documented codes, and
never with a 5xx, an INTERNAL_SERVER_ERROR or a dead process. Requests to the command service
are accounted in the ledger like the generated ones, so a refused mutation that appended
anyway fails too.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.fuzz.checks import check_graphql_response
from tests.fuzz.conftest import FuzzStack
from tests.fuzz.strategies import EVENT_ID_KEY, SEED_IDS

pytestmark = pytest.mark.e2e

CREATE = f"mutation($i: CreateProductInput!) {{ createProduct(input: $i) {{ {EVENT_ID_KEY}: eventId }} }}"
UPDATE = f"mutation($i: UpdateProductInput!) {{ updateProduct(input: $i) {{ {EVENT_ID_KEY}: eventId }} }}"
PRODUCTS = "query($f: ProductFilter, $n: Int, $after: String, $sort: ProductSort) { products(filter: $f, first: $n, after: $after, sort: $sort) { totalCount edges { node { id } } } }"
PRODUCT = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { id } }"
HISTORY = "query($id: ID!) { productHistory(id: $id) { eventId } }"
PRODUCT_AT = "query($id: ID!, $at: DateTime!) { productAt(id: $id, at: $at) { id } }"
MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    id: str
    service: str  # "command" or "query"
    content: bytes
    content_type: str | None = "application/json"


def body(query: str, variables: dict[str, Any] | None = None, **extra: Any) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}, **extra}).encode()


LONE = "\x01lone surrogate\x01"  # stands for a lone surrogate in body() arguments


def surrogates(query: str, variables: dict[str, Any] | None = None) -> bytes:
    """A request whose strings have each LONE in them replaced by the JSON escape \\ud800:
    valid JSON, but no Unicode text (json.dumps cannot write it, it escapes real surrogates)."""
    return body(query, variables).replace(json.dumps(LONE)[1:-1].encode(), b"\\ud800")


def cursor(*parts: Any) -> str:
    """A forged cursor: base64url of any JSON array, as services/query/cursors.py reads them."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def product_input(**fields: Any) -> dict[str, Any]:
    return {
        "sku": "H-1",
        "name": "Hostile",
        "price": {"amount": "1.00", "currency": "EUR"},
        **fields,
    }


BOTH = ("command", "query")
CASES: list[Case] = [
    # --- bodies that are not a GraphQL request ---
    *(Case(f"not-json-{s}", s, b"this is not json") for s in BOTH),
    *(Case(f"empty-{s}", s, b"") for s in BOTH),
    *(Case(f"invalid-utf8-{s}", s, b'{"query": "{ __typename }\xff\xfe"}') for s in BOTH),
    *(Case(f"latin1-{s}", s, '{"query": "{ __typename é }"}'.encode("latin-1")) for s in BOTH),
    *(Case(f"json-array-{s}", s, b'[{"query": "{ __typename }"}]') for s in BOTH),
    *(Case(f"json-string-{s}", s, b'"{ __typename }"') for s in BOTH),
    *(Case(f"json-null-{s}", s, b"null") for s in BOTH),
    *(Case(f"json-number-{s}", s, b"1e999") for s in BOTH),
    *(Case(f"no-query-{s}", s, b"{}") for s in BOTH),
    *(Case(f"query-not-a-string-{s}", s, b'{"query": 5}') for s in BOTH),
    *(Case(f"query-null-{s}", s, b'{"query": null}') for s in BOTH),
    *(
        Case(f"variables-a-list-{s}", s, b'{"query": "{ __typename }", "variables": [1]}')
        for s in BOTH
    ),
    *(
        Case(f"variables-a-string-{s}", s, b'{"query": "{ __typename }", "variables": "x"}')
        for s in BOTH
    ),
    *(
        Case(f"operation-name-a-number-{s}", s, b'{"query": "{ __typename }", "operationName": 7}')
        for s in BOTH
    ),
    *(
        Case(
            f"deeply-nested-json-{s}",
            s,
            body("{ __typename }", {"x": "PLACEHOLDER"}).replace(
                b'"PLACEHOLDER"', nested_list(100_000).encode()
            ),
        )
        for s in BOTH
    ),
    # --- wrong content types ---
    *(Case(f"text-plain-{s}", s, body("{ __typename }"), "text/plain") for s in BOTH),
    *(Case(f"no-content-type-{s}", s, body("{ __typename }"), None) for s in BOTH),
    *(
        Case(
            f"form-urlencoded-{s}",
            s,
            b"query=%7B__typename%7D",
            "application/x-www-form-urlencoded",
        )
        for s in BOTH
    ),
    *(
        Case(f"multipart-garbage-{s}", s, b"--x\r\ngarbage", "multipart/form-data; boundary=x")
        for s in BOTH
    ),
    *(Case(f"multipart-no-boundary-{s}", s, b"garbage", "multipart/form-data") for s in BOTH),
    *(
        Case(
            f"multipart-bad-operations-{s}",
            s,
            b'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{not json\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
        )
        for s in BOTH
    ),
    # --- GraphQL documents that are wrong or too big ---
    *(Case(f"syntax-error-{s}", s, body("{ __typename ")) for s in BOTH),
    *(
        Case(f"deeply-nested-selection-{s}", s, body("{" + " a {" * 5000 + " b" + " }" * 5001))
        for s in BOTH
    ),
    *(
        Case(
            f"deeply-nested-list-literal-{s}",
            s,
            body("{ __typename(x: " + nested_list(5000) + ") }"),
        )
        for s in BOTH
    ),
    *(
        Case(
            f"fragment-cycle-{s}",
            s,
            body("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
        )
        for s in BOTH
    ),
    *(
        Case(
            f"two-operations-no-name-{s}", s, body("query A { __typename } query B { __typename }")
        )
        for s in BOTH
    ),
    *(
        Case(f"unknown-operation-name-{s}", s, body("query A { __typename }", operationName="B"))
        for s in BOTH
    ),
    *(
        Case(f"thousands-of-validation-errors-{s}", s, body("{" + " nope" * 20_000 + " }"))
        for s in BOTH
    ),
    *(Case(f"duplicate-fields-{s}", s, body("{" + " __typename" * 3000 + " nope }")) for s in BOTH),
    *(
        Case(f"huge-string-literal-{s}", s, body('{ __typename(x: "' + "x" * (5 * MB) + '") }'))
        for s in BOTH
    ),
    Case(
        "introspection-too-deep",
        "query",
        body(
            "{ __schema { types { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } }"
        ),
    ),
    Case("mutation-to-the-query-service", "query", body(CREATE, {"i": product_input()})),
    Case("subscription-over-http-post", "query", body("subscription { productChanged { id } }")),
    # --- the query service's arguments at and past their limits ---
    Case(
        "many-aliases-over-the-cost-limit",
        "query",
        body("{" + " ".join(f'a{i}: product(id: "x") {{ id }}' for i in range(2000)) + " }"),
    ),
    Case(
        "huge-first-literal",
        "query",
        body("{ products(first: 99999999999999999999) { totalCount } }"),
    ),
    Case("huge-first-variable", "query", body(PRODUCTS, {"n": 2**70})),
    Case("float-first-variable", "query", body(PRODUCTS, {"n": 1e308})),
    Case("first-just-over-the-limit", "query", body(PRODUCTS, {"n": 101})),
    Case("negative-first", "query", body(PRODUCTS, {"n": -1})),
    Case("negative-min-version", "query", body(PRODUCT, {"id": SEED_IDS[0], "v": -5})),
    Case("huge-name-filter", "query", body(PRODUCTS, {"f": {"nameContains": "x" * MB}})),
    Case(
        "price-bound-beyond-decimal128",
        "query",
        body(PRODUCTS, {"f": {"minPrice": "123456789012345678.123456789012345678"}}),
    ),
    Case("price-bound-not-a-number", "query", body(PRODUCTS, {"f": {"maxPrice": "NaN"}})),
    Case("currency-filter-unknown", "query", body(PRODUCTS, {"f": {"currency": "ZZZ"}})),
    Case("cursor-not-base64", "query", body(PRODUCTS, {"after": "!!!"})),
    Case(
        "cursor-of-another-sort",
        "query",
        body(PRODUCTS, {"after": cursor("PRICE_ASC", {"d": "1"}, "x")}),
    ),
    Case(
        "cursor-bad-decimal",
        "query",
        body(PRODUCTS, {"after": cursor("PRICE_ASC", {"d": "abc"}, "x"), "sort": "PRICE_ASC"}),
    ),
    Case(
        "cursor-decimal-overflow",
        "query",
        body(PRODUCTS, {"after": cursor("PRICE_ASC", {"d": "1e999999"}, "x"), "sort": "PRICE_ASC"}),
    ),
    Case(
        "cursor-bad-time",
        "query",
        body(
            PRODUCTS,
            {"after": cursor("CREATED_AT_ASC", {"t": "yesterday"}, "x"), "sort": "CREATED_AT_ASC"},
        ),
    ),
    Case(
        "cursor-time-out-of-range",
        "query",
        body(
            PRODUCTS,
            {
                "after": cursor("CREATED_AT_ASC", {"t": "0001-01-01T00:00:00+14:00"}, "x"),
                "sort": "CREATED_AT_ASC",
            },
        ),
    ),
    Case(
        "cursor-wrong-shape",
        "query",
        body(PRODUCTS, {"after": cursor("NAME_ASC", "a", "x", "extra")}),
    ),
    Case(
        "cursor-key-of-the-wrong-type",
        "query",
        body(PRODUCTS, {"after": cursor("NAME_ASC", {"d": "1"}, 5)}),
    ),
    Case(
        "cursor-with-a-lone-surrogate",
        "query",
        body(
            PRODUCTS, {"after": base64.urlsafe_b64encode(b'["NAME_ASC", "\\ud800", "x"]').decode()}
        ),
    ),
    Case(
        "product-at-before-year-one",
        "query",
        body(PRODUCT_AT, {"id": SEED_IDS[0], "at": "0001-01-01T00:00:00+14:00"}),
    ),
    Case(
        "product-at-after-year-9999",
        "query",
        body(PRODUCT_AT, {"id": SEED_IDS[0], "at": "9999-12-31T23:59:59-14:00"}),
    ),
    Case("product-at-not-a-date", "query", body(PRODUCT_AT, {"id": SEED_IDS[0], "at": 20240501})),
    # Lone surrogates: valid JSON escapes, but not text that UTF-8 (or BSON) can carry.
    Case("lone-surrogate-product-id", "query", surrogates(PRODUCT, {"id": LONE})),
    Case("lone-surrogate-history-id", "query", surrogates(HISTORY, {"id": LONE})),
    Case(
        "lone-surrogate-category-filter", "query", surrogates(PRODUCTS, {"f": {"category": LONE}})
    ),
    Case(
        "lone-surrogate-name-filter",
        "query",
        surrogates(PRODUCTS, {"f": {"nameContains": "a" + LONE}}),
    ),
    Case("lone-surrogate-in-an-error-message", "query", surrogates(PRODUCTS, {"n": LONE})),
    Case(
        "lone-surrogate-in-the-query", "query", surrogates(f'{{ product(id: "{LONE}") {{ id }} }}')
    ),
    # --- the command service's inputs at and past their limits ---
    Case(
        "many-aliases-of-a-refused-mutation",
        "command",
        body(
            "mutation {"
            + " ".join(
                f'a{i}: deleteProduct(input: {{id: "nope"}}) {{ {EVENT_ID_KEY}: eventId }}'
                for i in range(1000)
            )
            + " }"
        ),
    ),
    Case("huge-name", "command", body(CREATE, {"i": product_input(name="x" * (5 * MB))})),
    Case("huge-tags", "command", body(CREATE, {"i": product_input(tags=["t"] * 100_000)})),
    Case(
        "huge-amount",
        "command",
        body(CREATE, {"i": product_input(price={"amount": "9" * 10_000, "currency": "EUR"})}),
    ),
    Case(
        "amount-with-too-many-decimals",
        "command",
        body(CREATE, {"i": product_input(price={"amount": "1.001", "currency": "EUR"})}),
    ),
    Case(
        "negative-amount",
        "command",
        body(CREATE, {"i": product_input(price={"amount": "-1.00", "currency": "EUR"})}),
    ),
    Case(
        "exponent-amount",
        "command",
        body(CREATE, {"i": product_input(price={"amount": "1E+3", "currency": "EUR"})}),
    ),
    Case("huge-command-id", "command", body(CREATE, {"i": product_input(commandId="c" * MB)})),
    Case(
        "negative-expected-version",
        "command",
        body(UPDATE, {"i": {"id": SEED_IDS[1], "expectedVersion": -1, "name": "x"}}),
    ),
    Case(
        "huge-expected-version",
        "command",
        body(UPDATE, {"i": {"id": SEED_IDS[1], "expectedVersion": 2**40, "name": "x"}}),
    ),
    Case(
        "float-expected-version",
        "command",
        body(UPDATE, {"i": {"id": SEED_IDS[1], "expectedVersion": 1.5, "name": "x"}}),
    ),
    Case(
        "price-cleared-on-update",
        "command",
        body(UPDATE, {"i": {"id": SEED_IDS[1], "price": None}}),
    ),
    Case("unknown-input-field", "command", body(CREATE, {"i": product_input(colour="red")})),
    Case("nested-list-as-tags", "command", body(CREATE, {"i": product_input(tags=[["a"]])})),
    Case("lone-surrogate-name", "command", surrogates(CREATE, {"i": product_input(name=LONE)})),
    Case(
        "lone-surrogate-description",
        "command",
        surrogates(UPDATE, {"i": {"id": SEED_IDS[1], "description": f"a{LONE}b"}}),
    ),
    Case(
        "lone-surrogate-command-id",
        "command",
        surrogates(CREATE, {"i": product_input(commandId=LONE)}),
    ),
    Case(
        "lone-surrogate-in-an-error-message",
        "command",
        surrogates(CREATE, {"i": product_input(sku=LONE, price={"amount": "1", "currency": LONE})}),
    ),
]


# Odd but valid: these must be answered with data and no errors.
VALID_CASES: list[Case] = [
    Case("name-filter-with-nul", "query", body(PRODUCTS, {"f": {"nameContains": "a\x00b"}})),
    Case("name-filter-regex-syntax", "query", body(PRODUCTS, {"f": {"nameContains": "(?<x"}})),
    Case("name-filter-backslashes", "query", body(PRODUCTS, {"f": {"nameContains": "\\x00\\"}})),
    Case(
        "price-bound-with-34-digits",
        "query",
        body(PRODUCTS, {"f": {"minPrice": "1234567890123456.123456789012345678"}}),
    ),
    Case(
        "product-at-year-one",
        "query",
        body(PRODUCT_AT, {"id": SEED_IDS[0], "at": "0001-01-01T00:00:00Z"}),
    ),
    Case(
        "product-at-year-9999",
        "query",
        body(PRODUCT_AT, {"id": SEED_IDS[0], "at": "9999-12-31T23:59:59.999Z"}),
    ),
    Case(
        "astral-plane-name-filter", "query", body(PRODUCTS, {"f": {"nameContains": "\U0001f600"}})
    ),
    *(Case(f"long-comment-{s}", s, body("# " + "x" * 20_000 + "\n{ __typename }")) for s in BOTH),
    *(
        Case(f"charset-parameter-{s}", s, body("{ __typename }"), "application/json; charset=utf-8")
        for s in BOTH
    ),
    Case(
        "ninety-nine-aliases",
        "command",
        body("{" + " ".join(f"a{i}: ping" for i in range(99)) + " }"),
    ),
]


async def refused(response: httpx.Response, service: str) -> None:
    """A clear 4xx, or a GraphQL response with errors keeping the contract; never a 5xx."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:2000]}"
    try:
        answer: Any = response.json()
    except ValueError:
        answer = None
    if 400 <= response.status_code < 500 and not (isinstance(answer, dict) and "errors" in answer):
        return  # a plain 4xx (ariadne's are text: "Request body is not a valid JSON", ...)
    errors = check_graphql_response(answer, service)
    assert errors, f"{response.status_code} without errors: {response.text[:2000]}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.service}-{c.id}" for c in CASES])
async def test_hostile_request_is_refused_clearly(
    stack: FuzzStack, http: httpx.AsyncClient, case: Case
) -> None:
    service = stack.command if case.service == "command" else stack.query
    response = await stack.post_raw(http, service, case.content, case.content_type)
    await refused(response, case.service)


@pytest.mark.parametrize("service_name", BOTH)
async def test_a_mutation_sent_by_get_runs_nowhere(
    stack: FuzzStack, http: httpx.AsyncClient, service_name: str
) -> None:
    """GET serves the GraphiQL explorer (neither service executes GET requests); whatever it
    answers, it is no 5xx and the ledger sees nothing appended."""
    service = stack.command if service_name == "command" else stack.query
    query = f'mutation {{ deleteProduct(input: {{id: "{SEED_IDS[0]}"}}) {{ {EVENT_ID_KEY}: eventId }} }}'
    response = await stack.get_raw(http, service, {"query": query})
    assert response.status_code < 500, response.text
    if response.headers.get("content-type", "").startswith("application/json"):
        assert check_graphql_response(response.json(), service_name)


@pytest.mark.parametrize("case", VALID_CASES, ids=[f"{c.service}-{c.id}" for c in VALID_CASES])
async def test_odd_but_valid_request_is_answered(
    stack: FuzzStack, http: httpx.AsyncClient, case: Case
) -> None:
    service = stack.command if case.service == "command" else stack.query
    response = await stack.post_raw(http, service, case.content, case.content_type)
    assert response.status_code == 200, response.text[:2000]
    assert check_graphql_response(response.json(), case.service) == []


async def test_the_stack_survived_and_the_log_matches_the_answers(
    stack: FuzzStack, http: httpx.AsyncClient
) -> None:
    await stack.assert_survived(http)
