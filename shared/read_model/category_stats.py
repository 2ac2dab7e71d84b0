"""The `category_stats` read model: per category and currency, count and min / max / average price.

Pure parts only: which statistics a product counts in (`key_of`), how a batch of events moves
them (`Changes`, one `Delta` per key), when the new bounds follow without reading the catalog
(`known_bounds`), and the whole document of a key (`document`; from products, or from the prices
parts of a catalog folded apart, `statistics` and `statistics_of`). Writing them — by deltas
inside the projector's batch transaction — is services/projector/projections/category_stats.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from bson.decimal128 import Decimal128

from shared.read_model.documents import CategoryStatsDocument, ProductDocument, StatsKey
from shared.read_model.prices import decimal_of, stored_amount

Key = tuple[str, str]  # (category, currency)


def key_of(product: ProductDocument | None) -> Key | None:
    """The statistics a product counts in; None for no product, a tombstone or no category."""
    if product is None or product["deleted"] or product["category"] is None:
        return None
    return product["category"], product["price"]["currency"]


def stats_id(key: Key) -> StatsKey:
    return {"category": key[0], "currency": key[1]}


@dataclass
class Delta:
    """What a batch did to one (category, currency): count and sum moved, prices in and out."""

    count: int = 0
    total: Decimal = Decimal(0)
    added: tuple[Decimal, Decimal] | None = None  # lowest and highest price that came in
    removed: tuple[Decimal, Decimal] | None = None  # lowest and highest price that left

    def add(self, price: Decimal) -> None:
        self.count += 1
        self.total += price
        self.added = _widen(self.added, price)

    def remove(self, price: Decimal) -> None:
        self.count -= 1
        self.total -= price
        self.removed = _widen(self.removed, price)


def _widen(bounds: tuple[Decimal, Decimal] | None, price: Decimal) -> tuple[Decimal, Decimal]:
    return (price, price) if bounds is None else (min(bounds[0], price), max(bounds[1], price))


class Changes:
    """How a batch moves each (category, currency)'s statistics."""

    def __init__(self) -> None:
        self._deltas: dict[Key, Delta] = {}

    def record(self, before: ProductDocument | None, after: ProductDocument) -> None:
        """One applied event: the product leaves its old key (if any) and enters its new one."""
        if before is not None and (old := key_of(before)) is not None:
            self._deltas.setdefault(old, Delta()).remove(stored_amount(before))
        if (new := key_of(after)) is not None:
            self._deltas.setdefault(new, Delta()).add(stored_amount(after))

    def __bool__(self) -> bool:
        return bool(self._deltas)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._deltas)

    def items(self) -> Iterator[tuple[Key, Delta]]:
        return iter(self._deltas.items())


def known_bounds(
    delta: Delta, stored: CategoryStatsDocument | None
) -> tuple[Decimal, Decimal] | None:
    """Min and max after the batch, if they follow from the stored statistics and the batch's
    prices; None if a price that left may have been the min or the max (then read the index).

    No stored statistics means no live product in the key before the batch.
    """
    if stored is None:
        return delta.added if delta.removed is None else None
    low, high = decimal_of(stored["minPrice"]), decimal_of(stored["maxPrice"])
    if delta.removed is not None and (delta.removed[0] <= low or delta.removed[1] >= high):
        return None
    if delta.added is not None:
        low, high = min(low, delta.added[0]), max(high, delta.added[1])
    return low, high


def document(
    key: Key, count: int, total: Decimal, bounds: tuple[Decimal, Decimal]
) -> CategoryStatsDocument:
    """The whole statistics document of a key with `count` live products summing to `total`."""
    return {
        "_id": stats_id(key),
        "category": key[0],
        "currency": key[1],
        "productCount": count,
        "priceSum": Decimal128(total),
        "minPrice": Decimal128(bounds[0]),
        "maxPrice": Decimal128(bounds[1]),
        "averagePrice": Decimal128(total / count),
    }


def statistics(products: Iterable[ProductDocument]) -> Iterator[CategoryStatsDocument]:
    """The statistics documents of these products (all of them), as the deltas keep them."""
    return statistics_of(prices_by_key(products))


def prices_by_key(products: Iterable[ProductDocument]) -> dict[Key, list[Decimal]]:
    """The live products' prices per (category, currency): what the statistics are made of.

    Prices of disjoint sets of products merge by concatenation (`merge_prices`), so parts of a
    catalog folded apart (a rebuild's worker processes) give the statistics of the whole.
    """
    prices: dict[Key, list[Decimal]] = {}
    for product in products:
        if (key := key_of(product)) is not None:
            prices.setdefault(key, []).append(stored_amount(product))
    return prices


def merge_prices(parts: Iterable[dict[Key, list[Decimal]]]) -> dict[Key, list[Decimal]]:
    merged: dict[Key, list[Decimal]] = {}
    for part in parts:
        for key, amounts in part.items():
            merged.setdefault(key, []).extend(amounts)
    return merged


def statistics_of(prices: dict[Key, list[Decimal]]) -> Iterator[CategoryStatsDocument]:
    """The statistics document of each key with live products priced `prices[key]`."""
    for key, amounts in prices.items():
        yield document(key, len(amounts), sum(amounts, Decimal(0)), (min(amounts), max(amounts)))
