"""Prices as the read models store them: Decimal128, exact in MongoDB's filters and sorts.

Two directions, named for them: `price_document` stores a domain `Money`, `stored_amount`
reads a stored product's price back as a Decimal. (The query service turns stored prices into
the decimal strings clients see: services/query/documents.py.)
"""

from __future__ import annotations

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


def price_document(price: Money) -> PriceDocument:
    """A domain price as stored."""
    return {"amount": decimal128(price.amount), "currency": price.currency}


def stored_amount(product: ProductDocument) -> Decimal:
    """A stored product's price amount."""
    return product["price"]["amount"].to_decimal()
