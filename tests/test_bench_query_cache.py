"""shared.adapters.graphql_http.query_cache.QueryCache, added for the benchmarks' targets (bench/RESULTS.md):
it must never change what a request gets, only how often the work behind it is done."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLError,
    ValidationContext,
    ValidationRule,
    build_schema,
    specified_rules,
    validate,
)

from shared.adapters.graphql_http.query_cache import QueryCache

SCHEMA = build_schema("type Query { hello(name: String): String, n: Int }")


def _data(query: str) -> dict[str, Any]:
    return {"query": query}


def test_the_same_text_parses_to_the_same_document_once() -> None:
    cache = QueryCache()
    first = cache.parse(None, _data("{ hello }"))
    assert cache.parse(None, _data("{ hello }")) is first
    assert cache.parse(None, _data("{ n }")) is not first


def test_invalid_documents_get_graphql_cores_errors_every_time() -> None:
    cache = QueryCache()
    document = cache.parse(None, _data("{ nope }"))
    expected = [e.message for e in validate(SCHEMA, document, specified_rules)]
    for _ in range(2):
        got = cache.validate(SCHEMA, document, specified_rules)
        assert [e.message for e in got] == expected != []


def test_rules_of_our_own_run_on_every_request_even_for_a_known_document() -> None:
    calls: list[int] = []

    def limit(allowed: bool) -> type[ValidationRule]:
        class PerRequest(ValidationRule):
            def __init__(self, context: ValidationContext) -> None:
                super().__init__(context)
                calls.append(1)
                if not allowed:
                    self.report_error(GraphQLError("over the limit"))

        return PerRequest

    cache = QueryCache()
    document = cache.parse(None, _data("{ hello }"))
    assert cache.validate(SCHEMA, document, (*specified_rules, limit(True))) == []
    refused = cache.validate(SCHEMA, document, (*specified_rules, limit(False)))
    assert [e.message for e in refused] == ["over the limit"]
    assert len(calls) == 2


def test_it_stays_bounded() -> None:
    cache = QueryCache(size=2)
    documents = [cache.parse(None, _data(f'{{ hello(name: "{i}") }}')) for i in range(3)]
    for document in documents:
        assert cache.validate(SCHEMA, document) == []
    assert cache.parse(None, _data('{ hello(name: "0") }')) is not documents[0]


def test_a_text_in_use_outlives_older_ones() -> None:
    cache = QueryCache(size=2)
    first = cache.parse(None, _data("{ hello }"))
    cache.parse(None, _data("{ n }"))
    assert cache.parse(None, _data("{ hello }")) is first  # used again: now the newest
    cache.parse(None, _data("{ hello n }"))  # evicts "{ n }", the least recently used
    assert cache.parse(None, _data("{ hello }")) is first
