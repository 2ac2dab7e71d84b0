"""shared.read_model.prices.decimal128 against bson's own Decimal128: the same bits, always."""

from __future__ import annotations

from decimal import Decimal

from bson.decimal128 import Decimal128
from hypothesis import example, given
from hypothesis import strategies as st

from shared.read_model.prices import decimal128

finite = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=40),
    st.integers(-6300, 6300),
)


@given(st.one_of(finite, st.decimals(places=2, allow_nan=False), st.decimals()))
@example(Decimal("0"))
@example(Decimal("-0.00"))
@example(Decimal("9" * 34))
@example(Decimal("9" * 34 + "E6111"))
@example(Decimal("1E6112"))
@example(Decimal("1E-6176"))
@example(Decimal("12.345678901234567890123456789012345"))
@example(Decimal("Infinity"))
@example(Decimal("-NaN"))
def test_the_same_bits_as_bson(value: Decimal) -> None:
    try:
        expected = Decimal128(value)
    except Exception as exc:  # bson refuses it (e.g. a value that would round): so must we
        try:
            decimal128(value)
        except type(exc):
            return
        raise AssertionError(f"{value} was accepted; bson refuses it with {exc!r}") from None
    assert decimal128(value).bid == expected.bid
