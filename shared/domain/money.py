"""Money as a decimal amount in an ISO-4217 currency; never a float."""

from __future__ import annotations

import functools
import re
from decimal import Decimal

from iso4217 import Currency
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
)

_AMOUNT = re.compile(r"^\d{1,18}(?:\.\d{1,18})?$")


@functools.cache  # only codes that passed are kept: ISO 4217 bounds it at ~180 entries
def minor_unit(currency: str) -> int:
    """Decimal places of the currency's minor unit (EUR 2, JPY 0, BHD 3).

    Raises ValueError for codes that are not ISO-4217 currencies or have no minor unit (funds,
    precious metals, the testing codes): a price in those would be meaningless in a catalog.
    Remembered per code: iso4217's enum lookup is slow, and every event read asks (bench/RESULTS.md).
    """
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        raise ValueError(f"{currency!r} is not an ISO-4217 currency code") from None
    if exponent is None:
        raise ValueError(f"{currency!r} has no minor unit and cannot price a product")
    return int(exponent)


@functools.cache  # a few minor units in all (0 to 4 decimals)
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


class Money(BaseModel):
    """A price: a decimal amount in an ISO-4217 currency, never a float.

    The amount is quantized to the currency's minor unit, so equal prices compare equal and have
    one spelling ("12.50" EUR, "1200" JPY).
    """

    model_config = ConfigDict(frozen=True)

    # currency first: the amount's validator needs it to know the minor unit.
    # The schema hints only document the JSON form (shared/schemas.py); the validators decide.
    currency: str = Field(
        description="ISO-4217 currency code.", json_schema_extra={"pattern": "^[A-Z]{3}$"}
    )
    amount: Decimal = Field(
        description="Non-negative decimal string with exactly the currency's minor-unit "
        "decimals (EUR 2, JPY 0, BHD 3).",
        json_schema_extra={"pattern": r"^\d{1,18}(\.\d{1,18})?$"},
    )

    @field_validator("currency", mode="before")
    @classmethod
    def _known_currency(cls, value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("currency must be a string")
        code = value.strip().upper()
        minor_unit(code)
        return code

    @field_validator("amount", mode="before")
    @classmethod
    def _plain_decimal(cls, value: object, info: ValidationInfo) -> Decimal:
        if isinstance(value, Decimal):
            value = format(value, "f")
        text = value.strip() if isinstance(value, str) else ""
        if not _AMOUNT.match(text):
            raise ValueError("amount must be a non-negative decimal string such as '12.50'")
        amount = Decimal(text)
        currency = info.data.get("currency")
        if currency is None:  # the currency was invalid; its own error says so
            return amount
        places = minor_unit(currency)
        _, point, decimals = text.partition(".")  # the pattern admits only digits around it
        if point and len(decimals) > places:
            raise ValueError(f"{currency} allows at most {places} decimal places")
        # One spelling per price: "12.5" EUR is stored as "12.50".
        return amount.quantize(_quantum(places))

    @field_serializer("amount")
    def _amount_as_string(self, amount: Decimal) -> str:
        return format(amount, "f")
