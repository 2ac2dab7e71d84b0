"""The decider, given/when/then: given these events, when this command, then these events or this error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.command.graphql import update_command
from shared.domain.commands import CreateProduct, DeleteProduct, parse
from shared.domain.decider import decide, fold
from shared.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    DomainError,
    InvalidInput,
    NotFound,
    ProductDeleted,
)
from shared.domain.events import (
    ProductCreated,
    ProductEvent,
    ProductUpdated,
)
from shared.domain.events import (
    ProductDeleted as Deleted,
)
from shared.domain.money import Money

ID = "6f1c2c6b-8d11-4a59-9a1f-3f7c2a5e8f0e"
EUR_10 = Money(amount=Decimal("10.00"), currency="EUR")
CREATED = ProductCreated(
    id=ID, sku="MUG-1", name="Mug", price=EUR_10, tags=("kitchen",), brand=None
)


def given(*events: ProductEvent) -> Any:
    return fold(events)


def create(**fields: Any) -> CreateProduct:
    data = {"id": ID, "sku": "MUG-1", "name": "Mug", "price": {"amount": "10", "currency": "EUR"}}
    return parse(CreateProduct, {**data, **fields})


def update(**fields: Any) -> Any:
    return update_command({"id": ID, **fields})


def delete(**fields: Any) -> DeleteProduct:
    return parse(DeleteProduct, {"id": ID, **fields})


def then_error(error: type[DomainError], command: Any, *events: ProductEvent) -> DomainError:
    with pytest.raises(error) as raised:
        decide(command, given(*events))
    return raised.value


def test_create_on_nothing_emits_created_with_every_field() -> None:
    events = decide(create(tags=["kitchen"]), given())
    assert events == [CREATED]
    assert events[0].data() == {
        "id": ID,
        "sku": "MUG-1",
        "name": "Mug",
        "description": None,
        "price": {"currency": "EUR", "amount": "10.00"},
        "category": None,
        "tags": ["kitchen"],
        "brand": None,
    }


def test_brand_is_stated_on_creation_and_can_be_changed_and_cleared() -> None:
    created = decide(create(brand="Acme"), given())
    assert created[0].data()["brand"] == "Acme"
    state = fold(created)
    assert state is not None and state.brand == "Acme"
    assert decide(update(brand="Acme"), state) == []
    renamed = decide(update(brand="Globex"), state)
    assert [e.data() for e in renamed] == [{"id": ID, "brand": "Globex"}]
    cleared = decide(update(brand=None), fold(renamed, state))
    assert [e.data() for e in cleared] == [{"id": ID, "brand": None}]
    after = fold(cleared, fold(renamed, state))
    assert after is not None and after.brand is None and after.version == 3


def test_create_generates_a_uuid_when_no_id_is_given() -> None:
    command = parse(
        CreateProduct, {"sku": "A", "name": "A", "price": {"amount": "1", "currency": "EUR"}}
    )
    assert len(command.id) == 36 and decide(command, None)[0].id == command.id


def test_create_an_existing_product_is_already_exists() -> None:
    then_error(AlreadyExists, create(), CREATED)


def test_create_a_deleted_product_is_already_exists() -> None:
    then_error(AlreadyExists, create(), CREATED, Deleted(id=ID))


@pytest.mark.parametrize("command", [update(name="x"), delete()])
def test_update_or_delete_unknown_is_not_found(command: Any) -> None:
    then_error(NotFound, command)


@pytest.mark.parametrize("command", [update(name="x"), delete()])
def test_update_or_delete_deleted_is_product_deleted(command: Any) -> None:
    then_error(ProductDeleted, command, CREATED, Deleted(id=ID))


@pytest.mark.parametrize(
    "command", [update(name="x", expectedVersion=1), delete(expectedVersion=3)]
)
def test_wrong_expected_version_is_a_conflict_with_both_versions(command: Any) -> None:
    error = then_error(ConcurrencyConflict, command, CREATED, ProductUpdated(id=ID, name="Cup"))
    assert error.extensions == {"expectedVersion": command.expected_version, "actualVersion": 2}


def test_matching_expected_version_passes() -> None:
    assert decide(update(name="Cup", expectedVersion=1), given(CREATED)) == [
        ProductUpdated(id=ID, name="Cup")
    ]


def test_update_carries_only_the_fields_that_changed() -> None:
    events = decide(
        update(name="Mug", price={"amount": "12.5", "currency": "EUR"}, tags=["kitchen"]),
        given(CREATED),
    )
    assert [e.data() for e in events] == [
        {"id": ID, "price": {"currency": "EUR", "amount": "12.50"}}
    ]


def test_update_that_changes_nothing_emits_nothing() -> None:
    assert (
        decide(update(name="Mug", price={"amount": "10.00", "currency": "EUR"}), given(CREATED))
        == []
    )
    assert decide(update(), given(CREATED)) == []


def test_update_can_clear_optional_fields() -> None:
    state = given(CREATED, ProductUpdated(id=ID, description="Big", category="Cups"))
    events = decide(update(description=None, category=None, tags=None), state)
    assert [e.data() for e in events] == [
        {"id": ID, "description": None, "category": None, "tags": []}
    ]
    after = fold(events, state)
    assert after is not None and (after.description, after.category, after.tags) == (None, None, ())


def test_delete_emits_deleted_and_evolve_counts_versions() -> None:
    state = given(CREATED, ProductUpdated(id=ID, name="Cup"))
    events = decide(delete(expectedVersion=2), state)
    assert events == [Deleted(id=ID)]
    final = fold(events, state)
    assert final is not None and final.deleted and final.version == 3 and final.name == "Cup"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"sku": ""}, "sku"),
        ({"sku": "has space"}, "sku"),
        ({"sku": "x" * 65}, "sku"),
        ({"price": {"amount": "-1", "currency": "EUR"}}, "price.amount"),
        ({"price": {"amount": "1.001", "currency": "EUR"}}, "price.amount"),
        ({"price": {"amount": "1.5", "currency": "JPY"}}, "price.amount"),
        ({"price": {"amount": "1e3", "currency": "EUR"}}, "price.amount"),
        ({"price": {"amount": "NaN", "currency": "EUR"}}, "price.amount"),
        ({"price": {"amount": "1", "currency": "ZZZ"}}, "price.currency"),
        ({"price": {"amount": "1", "currency": "XAU"}}, "price.currency"),
        ({"tags": ["t"] * 21}, "tags"),
        ({"tags": ["t" * 51]}, "tags"),
        ({"description": "d" * 5001}, "description"),
        ({"brand": "  "}, "brand"),
        ({"brand": "b" * 101}, "brand"),
        ({"id": "not-a-uuid"}, "id"),
    ],
)
def test_invalid_create_input_names_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        create(**fields)
    assert raised.value.field == field
    assert raised.value.code == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": None}, "name"),
        ({"price": None}, "price"),
        ({"expectedVersion": -1}, "expectedVersion"),
        ({"tags": ["x"] * 21}, "tags"),
        ({"brand": ""}, "brand"),
    ],
)
def test_invalid_update_input_names_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        update(**fields)
    assert raised.value.field == field


def test_boundaries_are_accepted() -> None:
    command = create(
        name="x" * 200,
        sku="A_b-9" + "x" * 59,
        description="d" * 5000,
        tags=["t" * 50] * 20,
        price={"amount": "0", "currency": "bhd"},
    )
    assert command.price == Money(amount=Decimal("0.000"), currency="BHD")
    assert str(command.price.amount) == "0.000"
