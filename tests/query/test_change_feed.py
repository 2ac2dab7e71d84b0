"""The change feed's fan-out and back-pressure, without MongoDB (its dispatch is pure)."""

from __future__ import annotations

from typing import Any

import pytest

from services.query.change_feed import ChangeFeed, Listener, MissedChanges, ProductChanged
from services.query.errors import SubscriberTooSlow
from services.query.subscriptions import ProductChangeStream
from shared.adapters.tracing import PushSpans
from tests.support.tracing import CALLER, CALLER_SPAN_ID, CALLER_TRACE_ID, in_memory


def change(product_id: str, version: int, operation: str = "replace") -> dict[str, Any]:
    return {
        "operationType": operation,
        "documentKey": {"_id": product_id},
        "fullDocument": {
            "_id": product_id,
            "version": version,
            "deleted": False,
            "sku": "S",
            "name": "N",
            "price": {"amount": "1.00", "currency": "EUR"},
            "createdAt": None,
            "updatedAt": None,
        },
    }


def feed() -> ChangeFeed:
    return ChangeFeed(None)  # type: ignore[arg-type]  # never runs: only its dispatch is used


def test_changes_reach_the_products_listeners_and_the_catch_all_ones() -> None:
    f = feed()
    with f.listen("a") as a, f.listen("b") as b, f.listen() as every:
        f._dispatch(change("a", 2))
        assert [ids(n) for n in drain(a)] == ["a"]
        assert drain(b) == []
        assert [ids(n) for n in drain(every)] == ["a"]
        assert f.listeners == 3
    assert f.listeners == 0


def test_a_swap_or_restart_tells_every_listener_to_re_read() -> None:
    f = feed()
    with f.listen("a") as a, f.listen() as every:
        f._dispatch({"operationType": "rename", "to": {"coll": "products"}})
        assert drain(a) == [MissedChanges("swap")] and drain(every) == [MissedChanges("swap")]


def test_a_listener_that_falls_behind_gets_one_overflow_instead_of_its_backlog() -> None:
    f = feed()
    with f.listen("a") as a:
        for version in range(1, a.queue.maxsize + 2):
            f._dispatch(change("a", version))
        assert drain(a) == [MissedChanges("overflow")]


async def test_a_subscriber_that_fell_behind_is_told_so_and_leaves_the_feed() -> None:
    f = feed()
    changes = ProductChangeStream(f, "a")
    assert f.listeners == 1
    f._dispatch(change("a", 1, "insert"))
    assert (await anext(changes)).value["type"] == "CREATED"
    for version in range(2, 1100):
        f._dispatch(change("a", version))
    with pytest.raises(SubscriberTooSlow) as raised:
        await anext(changes)
    assert raised.value.code == "SERVICE_UNAVAILABLE"
    assert f.listeners == 0


async def test_closing_an_unstarted_subscription_leaves_the_feed() -> None:
    f = feed()
    changes = ProductChangeStream(f, None)
    assert f.listeners == 1
    await changes.aclose()
    assert f.listeners == 0


def drain(listener: Listener) -> list[ProductChanged | MissedChanges]:
    items = []
    while not listener.queue.empty():
        items.append(listener.queue.get_nowait())
    return items


def ids(notice: ProductChanged | MissedChanges) -> str:
    assert isinstance(notice, ProductChanged)
    return notice.product_id


async def test_each_push_is_a_span_of_the_trace_that_wrote_the_version_pushed() -> None:
    traced, exported = in_memory()
    f = feed()
    changes = ProductChangeStream(f, "a", PushSpans(traced))
    first = change("a", 1, "insert")
    first["fullDocument"]["trace"] = {
        "traceparent": CALLER.traceparent,
        "tracestate": CALLER.tracestate,
    }
    f._dispatch(first)
    f._dispatch(change("a", 2))  # a version written untraced: pushed, not traced
    assert (await anext(changes)).value["version"] == 1
    assert exported.get_finished_spans() == ()  # still on its way out
    assert (await anext(changes)).value["version"] == 2  # asking for the next: the first was sent
    await changes.aclose()
    (push,) = exported.get_finished_spans()
    assert push.name == "push productChanged"
    assert push.parent is not None and push.parent.span_id == CALLER_SPAN_ID
    assert push.context.trace_id == CALLER_TRACE_ID
    assert push.attributes is not None and push.attributes["catalog.product.version"] == 1
