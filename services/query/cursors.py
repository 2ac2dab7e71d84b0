"""Opaque pagination cursors: the sort they belong to, the last row's sort key and its id.

A cursor is base64url of a small JSON array. Clients must treat it as opaque; it is not signed
because it grants nothing: a forged cursor only moves where a page starts. It names its sort so
that a cursor from one order is refused in another instead of silently skipping rows.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from bson.decimal128 import Decimal128

from services.query.documents import decimal_text
from shared.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Cursor:
    sort: str
    key: Any  # the sort field's value in MongoDB's type: str, Decimal128 or datetime
    id: str


def encode(cursor: Cursor) -> str:
    raw = orjson.dumps([cursor.sort, _to_json(cursor.key), cursor.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str, field: str = "after") -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        # orjson, unlike json, refuses lone surrogates, which MongoDB could not be sent.
        sort, key, product_id = orjson.loads(raw)
        if not isinstance(sort, str) or not isinstance(product_id, str):
            raise ValueError("malformed")
        return Cursor(sort, _from_json(key), product_id)
    # ArithmeticError: a "d" that is no Decimal128, a "t" outside years 1-9999 in UTC.
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError, ArithmeticError):
        raise InvalidInput(field, "not a cursor this service gave out") from None


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return {"d": decimal_text(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, str):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _from_json(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"d"}:
        return Decimal128(str(value["d"]))
    if isinstance(value, dict) and set(value) == {"t"}:
        moment = datetime.fromisoformat(str(value["t"]))
        return moment.astimezone(UTC) if moment.tzinfo else moment
    raise ValueError("malformed")
