"""What the fuzzer generates: GraphQL documents from both schemas, with values that hit real data.

hypothesis-graphql builds queries and mutations from the SDL. Left alone, its IDs, strings and
ints are random, so every `product(id:)` would miss and every `createProduct` would fail
validation, and the fuzz would only ever exercise the first few lines of each resolver. The
scalar strategies below therefore mix realistic values (the seeded products' ids, real currency
codes, decimal amounts, cursors this service hands out, small versions) with arbitrary ones, so
some generated mutations succeed and some queries find products, while the rest probe the edges.

Budgets come from hypothesis profiles chosen by environment variables:
- `FUZZ_PROFILE=quick` (default, `make test`): a few hundred cases, derandomized so CI replays the
  same cases every run;
- `FUZZ_PROFILE=thorough` (`make fuzz`): thousands of cases, a fresh random seed each run;
- `FUZZ_EXAMPLES=N` overrides the number of cases per generated test in either profile.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from graphql import (
    DocumentNode,
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    print_ast,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql_st

from services.query.cursors import Cursor, encode
from shared.adapters.graphql_http import load_sdl

COMMAND_SDL = load_sdl("command.graphql")
QUERY_SDL = load_sdl("query.graphql")
MIN_INT, MAX_INT = -(2**31), 2**31 - 1

# --- hypothesis profiles -------------------------------------------------------------------------

_COMMON: dict[str, Any] = {
    # Each case is an HTTP round trip to a real service (a Kafka transaction for mutations).
    "deadline": None,
    # The services keep their state between cases on purpose (a catalog that the mutations
    # change), and the stack fixture is shared by design; generated documents are large.
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    "print_blob": True,
}
settings.register_profile(
    "fuzz-quick", max_examples=200, derandomize=True, database=None, **_COMMON
)
settings.register_profile("fuzz-thorough", max_examples=2500, derandomize=False, **_COMMON)


def fuzz_settings(weight: float = 1.0) -> settings:
    """The settings of one generated test: the profile's budget times `weight`."""
    profile = settings.get_profile(f"fuzz-{os.environ.get('FUZZ_PROFILE', 'quick')}")
    examples = int(os.environ.get("FUZZ_EXAMPLES", profile.max_examples))
    return settings(profile, max_examples=max(1, round(examples * weight)))


# --- the seeded catalog --------------------------------------------------------------------------


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"catalog-fuzz/{name}"))


def _product(n: int, **fields: Any) -> dict[str, Any]:
    return {"id": _id(f"seed-{n}"), "sku": f"FUZZ-{n}", "commandId": f"seed-create-{n}", **fields}


# Created before the fuzz starts, so generated queries find products, histories and statistics.
SEED_PRODUCTS: list[dict[str, Any]] = [
    _product(
        0,
        name="Mug",
        price={"amount": "12.50", "currency": "EUR"},
        category="kitchen",
        tags=["ceramic", "blue"],
        brand="Acme",
    ),
    _product(1, name="Teapot", price={"amount": "1200", "currency": "JPY"}, category="kitchen"),
    _product(
        2,
        name="Spade",
        price={"amount": "0.125", "currency": "BHD"},
        category="garden",
        tags=["steel"],
        description="A spade.",
    ),
    _product(
        3, name="mug, large", price={"amount": "14.00", "currency": "EUR"}, category="kitchen"
    ),
    _product(4, name="Ünïcødé ☕", price={"amount": "0.00", "currency": "USD"}, tags=["ü"]),
    _product(5, name="Rake", price={"amount": "999999999999999999.99", "currency": "EUR"}),
    _product(6, name="Gone", price={"amount": "1.00", "currency": "EUR"}, category="garden"),
]
# After the creations: updates (histories longer than one event) and a deletion (a tombstone).
SEED_UPDATES: list[dict[str, Any]] = [
    {"id": SEED_PRODUCTS[0]["id"], "price": {"amount": "13.00", "currency": "EUR"}},
    {"id": SEED_PRODUCTS[0]["id"], "tags": None, "brand": None},
    {"id": SEED_PRODUCTS[2]["id"], "name": "Garden spade", "expectedVersion": 1},
]
SEED_DELETES: list[dict[str, Any]] = [{"id": SEED_PRODUCTS[6]["id"], "expectedVersion": 1}]

SEED_IDS = [p["id"] for p in SEED_PRODUCTS]
# Valid ids that no seed uses: a generated createProduct may claim one, later cases update it.
FRESH_IDS = [_id(f"fresh-{n}") for n in range(4)]
# A few command ids that generated mutations share, so retries (same commandId) happen.
SHARED_COMMAND_IDS = ["retry-a", "retry-b", "retry-c"]

# Cursors as the service hands them out (their sort, the row's key, its id).
CURSORS = [
    encode(Cursor("NAME_ASC", "Mug", SEED_IDS[0])),
    encode(Cursor("NAME_DESC", "Teapot", SEED_IDS[1])),
    encode(Cursor("PRICE_ASC", Decimal128(Decimal("12.50")), SEED_IDS[0])),
    encode(Cursor("PRICE_DESC", Decimal128(Decimal("1200")), SEED_IDS[1])),
    encode(Cursor("CREATED_AT_ASC", datetime(2024, 5, 1, tzinfo=UTC), SEED_IDS[2])),
    encode(Cursor("UPDATED_AT_DESC", datetime(2030, 1, 1, tzinfo=UTC), SEED_IDS[3])),
]

# --- scalars -------------------------------------------------------------------------------------
# Two sets of scalar strategies. "Plausible" values are valid for most fields at once (a currency
# code is also a valid sku and name, "12" a valid amount and sku), so that about one generated
# createProduct in six succeeds and updates and deletes find their products. "Arbitrary" values
# mix those with near misses, edge values and any text at all.

PLAUSIBLE_STRINGS = [
    *("EUR", "JPY", "USD", "BHD", "12", "0", "1200", "7"),
    *("Mug", "Teapot", "kitchen", "garden", "ceramic", "Acme"),
]
PLAUSIBLE_SCALARS: dict[str, st.SearchStrategy[ValueNode]] = {
    "ID": st.one_of(
        st.sampled_from(SEED_IDS + FRESH_IDS + SHARED_COMMAND_IDS), st.uuids().map(str)
    ).map(nodes.String),
    "String": st.sampled_from(PLAUSIBLE_STRINGS).map(nodes.String),
    "Int": st.integers(0, 5).map(nodes.Int),
    "DateTime": st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1))
    .map(lambda d: d.isoformat() + "Z")
    .map(nodes.String),
}

# hypothesis-graphql's own alphabet for strings: any UTF-8-encodable character, NUL included.
ALPHABET = st.characters(codec="utf-8", max_codepoint=0xFFFF, exclude_categories=["Cs"])
ANY_TEXT = st.text(alphabet=ALPHABET)

# Strings that mean something to some field of either schema (sku, name, currency, amount,
# category, tag, filter bounds, cursors, dates), including near misses.
EDGE_STRINGS = [
    *PLAUSIBLE_STRINGS,
    *(" eur ", "usd", "XXX", "XAU", "EURO", "€"),
    *("12.50", "12.5", "13.00", "0.00", "0.125", "0.001", "100"),
    *("-1", "1e3", "NaN", "Infinity", "12,50", " 12.50 ", ".5", "5."),
    "999999999999999999.99",
    "123456789012345678.123456789012345678",
    "9" * 40,
    *("MUG-1", "FUZZ-0", "mug", "Spade", "ü", "Ünïcødé ☕", "", " ", "\t", "x" * 201, "y" * 5001),
    *("a\x00b", "%", ".*", "(?", "2024-05-01T12:00:00Z", "2024-05-01", "not a date"),
    *CURSORS,
]
ARBITRARY_ID = st.one_of(
    st.sampled_from(SEED_IDS + FRESH_IDS + SHARED_COMMAND_IDS).map(nodes.String),
    st.uuids().map(str).map(nodes.String),
    ANY_TEXT.map(nodes.String),
    st.integers(MIN_INT, MAX_INT).map(nodes.Int),
)
_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_EDGE_DATES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999",
    "2024-05-01T12:00:00Z",
    "2024-05-01",
    "2099-01-01T00:00:00Z",
    "2024-13-01T00:00:00Z",
    "now",
]
ARBITRARY_SCALARS: dict[str, st.SearchStrategy[ValueNode]] = {
    "ID": ARBITRARY_ID,
    "String": st.one_of(st.sampled_from(EDGE_STRINGS), ANY_TEXT).map(nodes.String),
    # Versions, expectedVersion, minVersion and `first` are small in practice; the edges too.
    "Int": st.one_of(
        st.integers(-2, 8),
        st.sampled_from([0, 1, 20, 99, 100, 101, MAX_INT, MIN_INT]),
        st.integers(MIN_INT, MAX_INT),
    ).map(nodes.Int),
    "DateTime": st.one_of(
        st.datetimes(timezones=st.none() | _OFFSETS).map(datetime.isoformat),
        st.sampled_from(_EDGE_DATES),
        ANY_TEXT,
    ).map(nodes.String),
}

# --- documents -----------------------------------------------------------------------------------

MUTATIONS = ("createProduct", "updateProduct", "deleteProduct")
EVENT_ID_KEY = "fuzzEventId"  # every mutation field also answers its eventId under this alias


def with_event_ids(document: DocumentNode) -> str:
    """The document, printed, with `fuzzEventId: eventId` added to every mutation field.

    The fuzz must know which mutations succeeded and what they appended, whatever subset of
    MutationResult the generator happened to select.
    """
    definitions = tuple(_track(d) for d in document.definitions)
    return print_ast(replace(document, definitions=definitions))


def _track(definition: Any) -> Any:
    if not (
        isinstance(definition, OperationDefinitionNode)
        and definition.operation == OperationType.MUTATION
    ):
        return definition
    selections = tuple(_with_event_id(s) for s in definition.selection_set.selections)
    return replace(definition, selection_set=SelectionSetNode(selections=selections))


def _with_event_id(selection: Any) -> Any:
    if not (
        isinstance(selection, FieldNode)
        and selection.name.value in MUTATIONS
        and selection.selection_set is not None
    ):
        return selection
    extra = FieldNode(alias=NameNode(value=EVENT_ID_KEY), name=NameNode(value="eventId"))
    selections = (*selection.selection_set.selections, extra)
    return replace(selection, selection_set=SelectionSetNode(selections=selections))


def _documents(valid: Any, invalid: Any, sdl: str, **kwargs: Any) -> st.SearchStrategy[str]:
    """A third each: valid documents with plausible values, valid documents with arbitrary
    values, and documents with one schema violation each (a wrong type, an unknown enum value,
    a missing required argument)."""
    return st.one_of(
        valid(sdl, custom_scalars=PLAUSIBLE_SCALARS, mode=gql_st.Mode.POSITIVE, **kwargs),
        valid(sdl, custom_scalars=ARBITRARY_SCALARS, mode=gql_st.Mode.POSITIVE, **kwargs),
        invalid(sdl, custom_scalars=ARBITRARY_SCALARS, mode=gql_st.Mode.NEGATIVE, **kwargs),
    )


# The query service: every root field of query.graphql (subscriptions are not HTTP queries).
QUERY_DOCUMENTS = _documents(gql_st.queries, gql_st.queries, QUERY_SDL)
# The command service's mutations, with eventIds tracked.
MUTATION_DOCUMENTS = _documents(
    gql_st.mutations, gql_st.mutations, COMMAND_SDL, print_ast=with_event_ids
)
# ... and now and then its one query, `ping` (which has no arguments to get wrong).
COMMAND_DOCUMENTS = st.one_of(
    MUTATION_DOCUMENTS,
    MUTATION_DOCUMENTS,
    gql_st.from_schema(COMMAND_SDL, custom_scalars=ARBITRARY_SCALARS, print_ast=with_event_ids),
)
