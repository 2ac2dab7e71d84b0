"""Prices as the read models store them: Decimal128, exact in MongoDB's filters and sorts.

Two directions, named for them: `price_document` stores a domain `Money`, `stored_amount`
reads a stored product's price back as a Decimal (`decimal128` and `decimal_of` are the two
conversions, each without bson's pure-Python code for the common case). (The query service turns stored prices into
the decimal strings clients see: services/query/documents.py.)
"""

from __future__ import annotations

import struct
from decimal import Context, Decimal
from typing import TYPE_CHECKING

from bson.decimal128 import Decimal128

from shared.domain.money import Money
from shared.read_model.documents import PriceDocument

if TYPE_CHECKING:
    from shared.read_model.documents import ProductDocument

_EXPONENT_BIAS = 6176
_EXPONENTS = range(-6176, 6112)  # what Decimal128 holds unchanged (no clamping, no rounding)
_LOW_BITS = (1 << 64) - 1
_EXACT = Context(prec=34, Emax=999_999, Emin=-999_999)  # a 34-digit coefficient, unrounded
_BID = struct.Struct("<QQ")  # a Decimal128's 16 bytes: the low 64 bits, then the high ones
_LARGE_FORM = 3 << 61  # combination bits 11: infinities, NaNs and the form no finite value uses
_COEFFICIENT_HIGH = (1 << 49) - 1
_MAX_COEFFICIENT = 10**34 - 1


def decimal128(value: Decimal) -> Decimal128:
    """`Decimal128(value)`, without bson's pure-Python encoder for the common case.

    bson encodes a Decimal bit by bit in Python, and every event stores a price (its cost in a
    rebuild: bench/RESULTS.md). A finite value of at most 34 digits whose exponent Decimal128
    holds as it is packs straight into the binary integer decimal layout — sign, biased
    exponent, and the coefficient (< 10**34 < 2**113) across the high and low 64 bits. Anything
    else goes through bson's own constructor, which rounds, clamps or refuses it;
    tests/unit/test_decimal128.py holds the two to the same bits.
    """
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or len(digits) > 34 or exponent not in _EXPONENTS:
        return Decimal128(value)
    coefficient = int(value.copy_abs().scaleb(-exponent, _EXACT))
    high = (sign << 63) | ((exponent + _EXPONENT_BIAS) << 49) | (coefficient >> 64)
    # (high, low) is a documented constructor form; bson's type hints leave it out
    return Decimal128((high, coefficient & _LOW_BITS))  # type: ignore[arg-type]


def decimal_of(value: Decimal128) -> Decimal:
    """`value.to_decimal()`, without bson's pure-Python decoder for the common case.

    bson rebuilds the coefficient byte by byte and digit by digit in Python, and a rebuild reads
    every product's price back for the category statistics. A finite value in the usual form
    unpacks straight from the binary integer decimal layout into a Decimal; the rare rest
    (infinities, NaNs, the other coefficient form, an out-of-range coefficient) goes through
    bson. tests/unit/test_decimal128.py holds the two to the same Decimal, digits and exponent.
    """
    low, high = _BID.unpack(value.bid)
    if high & _LARGE_FORM == _LARGE_FORM:
        return value.to_decimal()
    coefficient = ((high & _COEFFICIENT_HIGH) << 64) | low
    if coefficient > _MAX_COEFFICIENT:
        return value.to_decimal()
    exponent = ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS
    # Decimal from text is exact: no context rounds or clamps it
    return Decimal(f"{'-' if high >> 63 else ''}{coefficient}E{exponent}")


def price_document(price: Money) -> PriceDocument:
    """A domain price as stored."""
    return {"amount": decimal128(price.amount), "currency": price.currency}


def stored_amount(product: ProductDocument) -> Decimal:
    """A stored product's price amount."""
    return decimal_of(product["price"]["amount"])
