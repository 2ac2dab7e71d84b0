"""shared.read_model.prices against bson's own Decimal128: the same bits and the same Decimals, always."""

from __future__ import annotations

from decimal import Decimal

from bson.decimal128 import Decimal128
from hypothesis import example, given
from hypothesis import strategies as st

from shared.read_model.prices import decimal128, decimal_of

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


def same_decimal(a: Decimal, b: Decimal) -> bool:
    """Equal as written: sign, digits and exponent (NaNs and signed zeros included)."""
    return a.as_tuple() == b.as_tuple()


@given(st.integers(0, (1 << 64) - 1), st.integers(0, (1 << 64) - 1))
@example(0, 0)
@example(1 << 63, 0)
@example(0x7800000000000000, 0)  # infinity
@example(0x7C00000000000000, 0)  # NaN
@example(0x7E00000000000000, 0)  # signalling NaN
@example(0x6000000000000000, 5)  # the other coefficient form
@example(0x0001ED09BEAD87C0, 0x378D8E6400000000)  # a coefficient of 10**34: read as 0 by bson
def test_decimal_of_reads_what_bson_reads(high: int, low: int) -> None:
    stored = Decimal128((high, low))  # type: ignore[arg-type]
    assert same_decimal(decimal_of(stored), stored.to_decimal())


@given(st.one_of(finite, st.decimals(places=2, allow_nan=False)))
def test_decimal_of_undoes_decimal128(value: Decimal) -> None:
    try:
        stored = Decimal128(value)
    except Exception:  # a value bson refuses has nothing to read back
        return
    assert same_decimal(decimal_of(stored), stored.to_decimal())
