"""The JSON Schemas in schema/events/ are the models' own, and what the code writes fits them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given

from shared import schemas
from shared.domain.events import EVENT_TYPES, ProductCreated
from shared.domain.events_v1 import ProductCreatedV1
from shared.domain.money import Money
from shared.domain.upcasting import EVENT_VERSIONS
from shared.envelope import from_record
from tests.support.contract import payload_validator, schema_file
from tests.support.legacy import as_v1
from tests.support.strategies import commands, write_side

ID = "6f1c2c6b-8d11-4a59-9a1f-3f7c2a5e8f0e"


def test_committed_schemas_equal_the_generated_ones() -> None:
    """Regenerate with `python -m shared.schemas` after changing a model (and think twice
    before changing one that is already in the log: add a version instead)."""
    assert schemas.differences() == []


def test_one_schema_file_per_type_and_version_named_after_both() -> None:
    names = sorted(path.name for path in schemas.EVENTS_DIR.glob("*.json"))
    assert names == [
        "ProductCreated.v1.json",
        "ProductCreated.v2.json",
        "ProductDeleted.v1.json",
        "ProductUpdated.v1.json",
        "ProductUpdated.v2.json",
    ]
    assert {(t, v) for t, v in EVENT_VERSIONS} == {
        (name.split(".")[0], int(name.split(".")[1][1:])) for name in names
    }


def test_the_schemas_are_valid_draft_7() -> None:
    for path in schemas.EVENTS_DIR.glob("*.json"):
        type_, version = path.name.split(".")[0], int(path.name.split(".")[1][1:])
        jsonschema.Draft7Validator.check_schema(payload_validator(type_, version).schema)


def test_money_is_a_string_amount_in_the_schema_as_on_the_wire() -> None:
    created = ProductCreated(
        id=ID,
        sku="MUG-1",
        name="Mug",
        price=Money(amount=Decimal("12.5"), currency="EUR"),
        brand="Acme",
    )
    validator = payload_validator("ProductCreated", 2)
    validator.validate(created.data())
    assert created.data()["price"] == {"currency": "EUR", "amount": "12.50"}
    for bad in (
        {**created.data(), "price": {"currency": "EUR", "amount": 12.5}},
        {**created.data(), "price": {"currency": "eur", "amount": "12.50"}},
        {k: v for k, v in created.data().items() if k != "brand"},  # v2 states the brand
        {**created.data(), "colour": "red"},  # no unknown fields
    ):
        assert not validator.is_valid(bad), bad


def test_v1_and_v2_creations_differ_exactly_by_the_brand() -> None:
    v1 = payload_validator("ProductCreated", 1).schema
    v2 = payload_validator("ProductCreated", 2).schema
    assert set(v2["properties"]) - set(v1["properties"]) == {"brand"}
    assert set(v2["required"]) - set(v1["required"]) == {"brand"}
    assert ProductCreatedV1.model_fields.keys() | {"brand"} == ProductCreated.model_fields.keys()


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_the_latest_schema_carries_its_ce_type(type_: str) -> None:
    version = EVENT_TYPES[type_].VERSION
    schema = payload_validator(type_, version).schema
    assert schema["x-ce-type"] == f"catalog.{type_}.v{version}"
    assert schema_file(type_, version).exists()


@given(commands)
def test_every_event_the_decider_makes_fits_its_schema_in_both_versions(batch: list[Any]) -> None:
    """Whatever the write side decides validates against the current schema, and, when v1
    could express it, the v1 record validates against the v1 schema."""
    log, _ = write_side(batch)
    for envelope in log:
        event = envelope.event
        payload_validator(event.TYPE, event.VERSION).validate(event.data())
        old = as_v1(envelope)
        if old is not None and event.VERSION > 1:
            key, value, headers = old
            payload_validator(event.TYPE, 1).validate(orjson.loads(value))
            assert from_record(key, value, headers).event == event
