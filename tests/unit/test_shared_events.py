"""SharingExecutor: one execution per distinct operation and event, and graphql-core's results."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLSchema,
    build_schema,
    parse,
    subscribe,
)
from graphql.execution import Executor

from shared.adapters.graphql_http.shared_events import (
    SharedEvent,
    SharedResult,
    SharingExecutor,
    _frozen,
    sharing_key,
)
from shared.adapters.graphql_http.websocket import next_message

SDL = """
type Query { noop: Int }
type Subscription { changed(scale: Int, flag: Boolean): Change! }
type Change { id: ID! n(times: Int): Int! label: String! slow: Int! broken: Int }
"""
QUERY = "subscription($s: Int) { changed(scale: $s) { id n(times: 3) label } }"


class Fixture:
    """A schema whose resolvers count their calls, fed from a list of events."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.schema: GraphQLSchema = build_schema(SDL)
        subscription = self.schema.subscription_type
        change = self.schema.type_map["Change"]
        assert subscription is not None
        fields = subscription.fields["changed"]
        fields.subscribe = self._source
        fields.resolve = self._changed
        change.fields["n"].resolve = self._n  # type: ignore[union-attr]
        change.fields["slow"].resolve = self._slow  # type: ignore[union-attr]
        change.fields["broken"].resolve = self._broken  # type: ignore[union-attr]
        self.events: list[Any] = []

    async def _source(self, *_: Any, **__: Any) -> AsyncIterator[Any]:
        for event in self.events:
            yield event

    def _changed(self, root: Any, *_: Any, scale: int | None = None, **__: Any) -> Any:
        self.calls["changed"] += 1
        value = root.value if isinstance(root, SharedEvent) else root
        return {**value, "scale": scale or 1}

    def _n(self, parent: Any, *_: Any, times: int = 1) -> int:
        self.calls["n"] += 1
        return int(parent["n"]) * times * parent["scale"]

    async def _slow(self, parent: Any, *_: Any) -> int:
        self.calls["slow"] += 1
        return int(parent["n"])

    def _broken(self, *_: Any) -> int:
        raise ValueError("no such thing")

    async def results(
        self,
        document: DocumentNode,
        variables: dict[str, Any] | None = None,
        executor: type[Executor[Any]] | None = SharingExecutor,
    ) -> list[ExecutionResult]:
        stream = subscribe(
            self.schema, document, variable_values=variables, executor_class=executor
        )
        assert not isinstance(stream, ExecutionResult)
        return [result async for result in stream]  # type: ignore[union-attr]


def events(shared: bool) -> list[Any]:
    plain = [{"id": str(i), "n": i, "label": f"#{i}"} for i in range(3)]
    return [SharedEvent(event) for event in plain] if shared else plain


async def test_subscribers_of_one_query_share_one_execution_per_event() -> None:
    f = Fixture()
    f.events = events(shared=True)
    document = parse(QUERY)
    shared = [await f.results(document, {"s": 2}) for _ in range(5)]
    assert f.calls == {"changed": 3, "n": 3}  # once per event, not once per subscriber
    f.events = events(shared=False)
    own = await f.results(document, {"s": 2}, executor=None)  # graphql-core, unshared
    assert all(results == own and own == results for results in shared)
    assert all(a is b for a, b in zip(shared[0], shared[4], strict=True))
    assert all(isinstance(result, SharedResult) for result in shared[0])


async def test_other_variables_or_another_document_are_executed_apart() -> None:
    f = Fixture()
    f.events = events(shared=True)
    document = parse(QUERY)
    twice = await f.results(document, {"s": 2})
    thrice = await f.results(document, {"s": 3})
    reparsed = await f.results(parse(QUERY), {"s": 2})
    assert f.calls["changed"] == 9
    assert [r.data["changed"]["n"] for r in twice] == [0, 6, 12]  # type: ignore[index]
    assert [r.data["changed"]["n"] for r in thrice] == [0, 9, 18]  # type: ignore[index]
    assert reparsed == twice


async def test_plain_events_are_executed_for_every_subscriber() -> None:
    f = Fixture()
    f.events = events(shared=False)
    document = parse(QUERY)
    for _ in range(2):
        await f.results(document)
    assert f.calls["changed"] == 6


async def test_an_execution_that_awaits_is_not_shared_and_still_right() -> None:
    f = Fixture()
    f.events = events(shared=True)
    document = parse("subscription { changed { id slow } }")
    first = await f.results(document)
    second = await f.results(document)
    assert f.calls["slow"] == 6
    assert first == second and [r.data["changed"]["slow"] for r in first] == [0, 1, 2]  # type: ignore[index]


async def test_field_errors_are_graphql_cores_own() -> None:
    f = Fixture()
    document = parse("subscription { changed { id broken } }")
    f.events = events(shared=True)
    shared = [await f.results(document) for _ in range(2)]
    f.events = events(shared=False)
    own = await f.results(document, executor=None)
    assert shared[0] == own and shared[1] == own
    assert own[0].errors is not None and own[0].errors[0].path == ["changed", "broken"]


@pytest.mark.parametrize(
    ("a", "b"),
    [(1, True), (1, 1.0), ({"x": 1}, [("x", 1)]), ([1, 2], [2, 1]), ("1", 1), (None, "None")],
)
def test_variables_alike_only_in_hash_get_keys_of_their_own(a: Any, b: Any) -> None:
    assert _frozen(a) != _frozen(b)
    assert _frozen({"v": a, "w": [a]}) == _frozen({"w": [a], "v": a})


async def test_variables_that_cannot_be_keyed_are_not_shared() -> None:
    f = Fixture()
    executor = SharingExecutor.build(f.schema, parse(QUERY), raw_variable_values={"s": 1})
    assert isinstance(executor, Executor)
    assert sharing_key(executor) is not None
    executor.variable_values.coerced["s"] = {1, 2}  # a custom scalar could coerce to a set
    assert sharing_key(executor) is None


@pytest.mark.parametrize(
    ("operation_id", "data"),
    [
        ("1", {"changed": {"id": "é", "n": 1, "label": 'quo"te\\ \u2028 ✓', "x": None}}),
        ('o"p\u00e9', {"changed": {"tags": [], "price": {"amount": "1.50"}}}),
        ("2", None),
    ],
)
def test_a_shared_result_is_sent_as_ariadne_sends_it(
    operation_id: str, data: dict[str, Any] | None
) -> None:
    result = SharedResult(ExecutionResult(data))
    # What ariadne's observe_async_results builds and Starlette's send_json encodes.
    payload = {"data": data} if data else {}
    ariadne = json.dumps(
        {"type": "next", "id": operation_id, "payload": payload},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert next_message(operation_id, result) == ariadne
    assert next_message(operation_id, result) == ariadne  # from the payload encoded before
    assert result.encoded is not None
