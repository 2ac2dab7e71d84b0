"""Parsing and spec validation done once per distinct query text, in bounded LRU caches."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from cachetools import LRUCache
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    TypeInfo,
    parse,
    specified_rules,
    validate,
)

_SPEC_RULES = frozenset(specified_rules)


class QueryCache:
    """Parses each distinct query text once, and checks it against the spec's rules once.

    Clients send the same few query texts over and over with different variables, and
    graphql-core walks the whole document with ~30 validation rules every time, which dominated
    each service's CPU under load (bench/RESULTS.md). A document depends only on its text, and
    the spec's rules only on (schema, document), so both results can be kept. Rules of our own
    (depth, cost) may depend on the request's variables; a service that wants their result kept
    too hands out the same rule classes for requests they judge alike, since the classes are
    part of the key. A failing document is never kept, and the whole validation runs again, so
    errors are exactly graphql-core's. Bounded LRUs, and only texts up to `max_query_chars`, so
    many distinct or huge queries cannot make it grow without bound.
    """

    def __init__(self, size: int = 256, max_query_chars: int = 8192) -> None:
        self._max_chars = max_query_chars
        self._documents: LRUCache[str, DocumentNode] = LRUCache(maxsize=size)
        self._valid: LRUCache[tuple[Any, ...], DocumentNode] = LRUCache(maxsize=size)

    def parse(self, _context: Any, data: dict[str, Any]) -> DocumentNode:
        query: str = data["query"]
        document = self._documents.get(query)  # a hit counts as a use (LRU order)
        if document is not None:
            return document
        document = parse(query)
        if len(query) <= self._max_chars:
            self._documents[query] = document
        return document

    def validate(
        self,
        schema: GraphQLSchema,
        document_ast: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        type_info: TypeInfo | None = None,  # ariadne's signature; graphql-core 3.3 has none
    ) -> list[GraphQLError]:
        rules = tuple(rules) if rules is not None else specified_rules
        own = tuple(rule for rule in rules if rule not in _SPEC_RULES)
        # Keyed by identity: the entry holds the document, so its id cannot be reused meanwhile.
        key = (id(schema), id(document_ast))
        own_key = (*key, *own)
        if self._valid.get(key) is document_ast:
            if not own or self._valid.get(own_key) is document_ast:
                return []
            errors = validate(schema, document_ast, own, max_errors)
        else:
            errors = validate(schema, document_ast, rules, max_errors)
            if not errors:
                self._valid[key] = document_ast
        if not errors and own:
            self._valid[own_key] = document_ast
        return errors
