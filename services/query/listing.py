"""The `products` list as MongoDB queries: filter, total order and keyset pagination.

Pages continue after the last row's (sort key, _id) instead of skipping N rows, so a page costs
the same at any depth and rows inserted or removed meanwhile never shift the window (no row is
returned twice or skipped because of them). Every sort has an index in shared/adapters/mongo.py
that starts with `deleted` and ends with `_id`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, DecimalException
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import ASCENDING, DESCENDING

from services.query.cursors import Cursor, decode, encode
from shared.adapters.mongo import BY_CATEGORY_AND_NAME, BY_NAME, Document, IndexKeys
from shared.domain.commands import MAX_CATEGORY, MAX_NAME, MAX_TAG
from shared.domain.errors import InvalidInput
from shared.domain.money import minor_unit

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_NAME_FILTER = MAX_NAME
_AMOUNT = re.compile(r"^\d{1,18}(?:\.\d{1,18})?$")


@dataclass(frozen=True, slots=True)
class Order:
    field: str  # dotted path in the products document
    direction: int  # pymongo.ASCENDING or DESCENDING; `_id` goes the same way

    def spec(self) -> list[tuple[str, int]]:
        return [(self.field, self.direction), ("_id", self.direction)]

    def key(self, doc: Document) -> Any:
        value: Any = doc
        for part in self.field.split("."):
            value = value[part]
        return value

    def after(self, cursor: Cursor) -> Document:
        """Rows strictly after the cursor's row in this order.

        The range on the sort field is what lets the index scan start at the cursor: the `$or`
        alone (the exact condition) is applied as a filter, and the scan would walk every row
        of the earlier pages again.
        """
        strictly, or_equal = ("$gt", "$gte") if self.direction == ASCENDING else ("$lt", "$lte")
        return {
            self.field: {or_equal: cursor.key},
            "$or": [{self.field: {strictly: cursor.key}}, {"_id": {strictly: cursor.id}}],
        }


ORDERS: dict[str, Order] = {
    "NAME_ASC": Order("name", ASCENDING),
    "NAME_DESC": Order("name", DESCENDING),
    "PRICE_ASC": Order("price.amount", ASCENDING),
    "PRICE_DESC": Order("price.amount", DESCENDING),
    "CREATED_AT_ASC": Order("createdAt", ASCENDING),
    "CREATED_AT_DESC": Order("createdAt", DESCENDING),
    "UPDATED_AT_DESC": Order("updatedAt", DESCENDING),
}


@dataclass(frozen=True, slots=True)
class Page:
    """One page's query: `query` selects the rows, `count_query` the whole filtered set, which
    is counted over `count_index` when that is set."""

    sort: str
    order: Order
    query: Document
    count_query: Document
    limit: int
    after: Cursor | None
    count_index: IndexKeys | None = None

    @property
    def scans(self) -> bool:
        """Whether a filter no index narrows (a name substring) makes this a scan of the range."""
        return "name" in self.count_query

    def cursor(self, row: Document) -> str:
        """The opaque cursor that continues after `row`."""
        return encode(Cursor(self.sort, self.order.key(row), row["_id"]))


def page(filter: Document | None, sort: str | None, first: int | None, after: str | None) -> Page:
    """Validate the arguments of `products` and turn them into a Page; InvalidInput if bad."""
    sort = sort or "NAME_ASC"
    order = ORDERS[sort]  # the GraphQL enum admits nothing else
    limit = DEFAULT_PAGE if first is None else first
    if limit < 0 or limit > MAX_PAGE:
        raise InvalidInput("first", f"must be between 0 and {MAX_PAGE}")
    match = conditions(filter or {})
    cursor = None
    query = match
    if after is not None:
        cursor = decode(after)
        if cursor.sort != sort:
            raise InvalidInput("after", f"the cursor belongs to sort {cursor.sort}, not {sort}")
        query = {"$and": [match, order.after(cursor)]}
    return Page(sort, order, query, match, limit, cursor, _count_index(match))


def _count_index(match: Document) -> IndexKeys | None:
    """For a count with `nameContains`, the index whose keys hold the names.

    No index serves a substring, so the pattern is tried on every name in the range; on the
    index keys that costs a fraction of what the planner otherwise picks for a count (reading
    every document), and it is what bounds the worst case (README, "Listing costs").
    """
    if "name" not in match:
        return None
    return BY_CATEGORY_AND_NAME if "category" in match else BY_NAME


def conditions(filter: Document) -> Document:
    """The MongoDB filter for a ProductFilter; tombstones are always excluded."""
    match: Document = {"deleted": False}
    if filter.get("category") is not None:
        match["category"] = _bounded("filter.category", filter["category"], MAX_CATEGORY)
    if filter.get("tag") is not None:
        match["tags"] = _bounded("filter.tag", filter["tag"], MAX_TAG)
    name = filter.get("nameContains")
    if name:
        if len(name) > MAX_NAME_FILTER:
            raise InvalidInput("filter.nameContains", f"at most {MAX_NAME_FILTER} characters")
        # re.escape leaves NUL as it is, and MongoDB refuses a pattern with a NUL byte in it;
        # names may contain one, so it is searched for as the escape \x00.
        pattern = re.escape(name).replace("\x00", "\\x00")
        match["name"] = {"$regex": pattern, "$options": "i"}
    if filter.get("currency") is not None:
        match["price.currency"] = _currency(filter["currency"])
    bounds: Document = {}
    if filter.get("minPrice") is not None:
        bounds["$gte"] = _amount("filter.minPrice", filter["minPrice"])
    if filter.get("maxPrice") is not None:
        bounds["$lte"] = _amount("filter.maxPrice", filter["maxPrice"])
    if bounds:
        match["price.amount"] = bounds
    return match


def _bounded(field: str, value: str, limit: int) -> str:
    """No stored product can match a value longer than the write side allows: refuse it."""
    if len(value) > limit:
        raise InvalidInput(field, f"at most {limit} characters")
    return value


def _currency(value: str) -> str:
    code = value.strip().upper()
    try:
        minor_unit(code)
    except ValueError as exc:
        raise InvalidInput("filter.currency", str(exc)) from None
    return code


def _amount(field: str, value: str) -> Decimal128:
    """A price bound as Decimal128, which MongoDB compares exactly with the stored prices."""
    text = value.strip()
    if not _AMOUNT.match(text):
        raise InvalidInput(field, "must be a non-negative decimal string such as '12.50'")
    try:
        return Decimal128(Decimal(text))
    except DecimalException:  # Inexact: more digits than Decimal128's 34
        raise InvalidInput(field, "has more than 34 significant digits") from None
