"""The pure parts of the category statistics (shared/read_model/category_stats.py): how a batch's
events move each (category, currency), when the bounds follow without reading the catalog, and
the whole documents a rebuild writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from hypothesis import given
from hypothesis import strategies as st

from shared.read_model.category_stats import (
    Changes,
    Delta,
    document,
    key_of,
    known_bounds,
    merge_prices,
    prices_by_key,
    statistics,
    statistics_of,
)
from shared.read_model.documents import CategoryStatsDocument, ProductDocument

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def product(
    pid: str, amount: str, category: str | None = "cups", deleted: bool = False
) -> ProductDocument:
    return {
        "_id": pid,
        "sku": "S",
        "name": "N",
        "description": None,
        "price": {"amount": Decimal128(amount), "currency": "EUR"},
        "category": category,
        "tags": [],
        "brand": None,
        "version": 1,
        "createdAt": NOW,
        "updatedAt": NOW,
        "deleted": deleted,
    }


def stored(low: str, high: str, count: int = 3, total: str = "15") -> CategoryStatsDocument:
    return document(("cups", "EUR"), count, Decimal(total), (Decimal(low), Decimal(high)))


def test_only_live_products_with_a_category_count() -> None:
    assert key_of(product("a", "1.00")) == ("cups", "EUR")
    assert key_of(product("a", "1.00", category=None)) is None
    assert key_of(product("a", "1.00", deleted=True)) is None
    assert key_of(None) is None


def test_a_batch_moves_products_out_of_one_key_and_into_another() -> None:
    changes = Changes()
    changes.record(None, product("a", "2.00"))  # created
    changes.record(product("b", "5.00"), product("b", "7.00"))  # repriced
    changes.record(product("c", "3.00"), product("c", "3.00", category="plates"))  # moved
    changes.record(product("d", "9.00"), product("d", "9.00", deleted=True))  # deleted
    deltas: dict[Any, Delta] = dict(changes.items())
    cups, plates = deltas[("cups", "EUR")], deltas[("plates", "EUR")]
    assert (cups.count, cups.total) == (-1, Decimal("-8.00"))
    assert (cups.added, cups.removed) == (
        (Decimal("2.00"), Decimal("7.00")),
        (Decimal("3.00"), Decimal("9.00")),
    )
    assert (plates.count, plates.total, plates.added, plates.removed) == (
        1,
        Decimal("3.00"),
        (Decimal("3.00"), Decimal("3.00")),
        None,
    )
    assert list(changes) == [("cups", "EUR"), ("plates", "EUR")] and bool(changes)
    assert not Changes()


def test_bounds_follow_unless_a_price_that_left_may_have_been_one() -> None:
    came = Delta()
    came.add(Decimal("1.00"))
    came.add(Decimal("20.00"))
    assert known_bounds(came, None) == (Decimal("1.00"), Decimal("20.00"))
    assert known_bounds(came, stored("2", "10")) == (Decimal("1.00"), Decimal("20.00"))
    inside = Delta()
    inside.remove(Decimal("5"))
    assert known_bounds(inside, stored("2", "10")) == (Decimal("2"), Decimal("10"))
    for edge in ("2", "10"):  # the min or the max left: only the index can tell the new one
        left = Delta()
        left.remove(Decimal(edge))
        assert known_bounds(left, stored("2", "10")) is None
    assert known_bounds(inside, None) is None  # nothing stored, yet something left: unknown


def test_whole_documents_of_a_set_of_products() -> None:
    docs = list(
        statistics(
            [
                product("a", "1.00"),
                product("b", "4.00"),
                product("c", "9.00", deleted=True),
                product("d", "2.00", category="plates"),
            ]
        )
    )
    assert docs == [
        document(("cups", "EUR"), 2, Decimal("5.00"), (Decimal("1.00"), Decimal("4.00"))),
        document(("plates", "EUR"), 1, Decimal("2.00"), (Decimal("2.00"), Decimal("2.00"))),
    ]
    assert docs[0]["averagePrice"] == Decimal128("2.50")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["cups", "mugs", None]),
            st.decimals(min_value=0, max_value=10**6, places=2),
            st.booleans(),
        ),
        max_size=30,
    ),
    st.integers(1, 4),
)
def test_prices_of_parts_merge_into_the_statistics_of_the_whole(
    specs: list[tuple[str | None, Decimal, bool]], parts: int
) -> None:
    catalog = [
        product(f"p{i}", str(amount), category, deleted)
        for i, (category, amount, deleted) in enumerate(specs)
    ]
    merged = merge_prices(prices_by_key(catalog[i::parts]) for i in range(parts))
    assert sorted(map(stats_items, statistics_of(merged))) == sorted(
        map(stats_items, statistics(catalog))
    )


def stats_items(doc: CategoryStatsDocument) -> list[tuple[str, Any]]:
    return sorted((k, str(v)) for k, v in doc.items())
