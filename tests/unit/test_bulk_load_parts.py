"""How a rebuild splits the log between worker processes and joins what they did
(services/projector/bulk_load.py): pure parts, no Kafka or MongoDB."""

from __future__ import annotations

import gc
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.projector.bulk_load import Part, Replayed, merge, rare_collections, shares, split


@given(st.lists(st.integers(0, 200), unique=True, max_size=24), st.integers(1, 8))
def test_every_partition_goes_to_exactly_one_worker_and_no_worker_is_idle(
    partitions: list[int], workers: int
) -> None:
    groups = split(partitions, workers)
    assert sorted(p for group in groups for p in group) == sorted(partitions)
    assert len(groups) == max(1, min(workers, len(partitions)))
    assert all(groups) or partitions == []


@given(st.integers(0, 10**6), st.integers(1, 8))
def test_the_shares_of_max_products_add_up_to_it_and_differ_by_at_most_one(
    max_products: int, workers: int
) -> None:
    parts = shares(max_products, workers)
    assert len(parts) == workers
    assert sum(parts) == max_products
    assert max(parts) - min(parts) <= 1


def test_merge_sums_the_counts_and_joins_prices_and_positions() -> None:
    first = Part(Replayed(5, 1, 0), {("cups", "EUR"): [Decimal("1.00")]}, {0: 7, 2: 3})
    second = Part(
        Replayed(4, 0, 2),
        {("cups", "EUR"): [Decimal("2.00")], ("mugs", "EUR"): [Decimal("3.00")]},
        {1: 9},
        overflowed=True,
    )

    totals, prices, positions, overflowed = merge([first, second])

    assert totals == Replayed(9, 1, 2)
    assert prices == {
        ("cups", "EUR"): [Decimal("1.00"), Decimal("2.00")],
        ("mugs", "EUR"): [Decimal("3.00")],
    }
    assert positions == {0: 7, 1: 9, 2: 3}
    assert overflowed
    assert merge([first])[3] is False


def test_fewer_collections_while_folding_and_the_collector_as_it_was_afterwards() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), rare_collections():
        assert gc.get_threshold()[0] > before[0]
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()  # cycles are still collected
        raise RuntimeError("a fold that fails")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
