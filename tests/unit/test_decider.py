"""The decider, given/when/then: given these events, when this command, then these events or
this error (fraktalio/fmodel's test DSL, in a few lines)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from services.command.graphql import update_command
from shared.domain.commands import (
    PRODUCT_ID_NAMESPACE,
    AnyCommand,
    CreateProduct,
    DeleteProduct,
    parse,
)
from shared.domain.decider import State, decide, fold
from shared.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    DomainError,
    InvalidInput,
    NotFound,
    ProductIsDeleted,
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


@dataclass(frozen=True)
class Given:
    """The state the given events fold to, ready for a command."""

    events: tuple[ProductEvent, ...]

    @property
    def state(self) -> State:
        return fold(self.events)

    def when(self, command: AnyCommand) -> When:
        return When(self, command)


@dataclass(frozen=True)
class When:
    given: Given
    command: AnyCommand

    def then_events(self, *expected: ProductEvent) -> list[ProductEvent]:
        """The command decides exactly these events; they are returned for further checks."""
        events = decide(self.command, self.given.state)
        assert events == list(expected)
        return events

    def then_error(self, error: type[DomainError]) -> DomainError:
        """The command is refused with this error, and decides nothing."""
        with pytest.raises(error) as raised:
            decide(self.command, self.given.state)
        return raised.value


def given(*events: ProductEvent) -> Given:
    return Given(events)


def create(**fields: Any) -> CreateProduct:
    data = {"id": ID, "sku": "MUG-1", "name": "Mug", "price": {"amount": "10", "currency": "EUR"}}
    return parse(CreateProduct, {**data, **fields})


def update(**fields: Any) -> Any:
    return update_command({"id": ID, **fields})


def delete(**fields: Any) -> DeleteProduct:
    return parse(DeleteProduct, {"id": ID, **fields})


def test_create_on_nothing_emits_created_with_every_field() -> None:
    events = given().when(create(tags=["kitchen"])).then_events(CREATED)
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
    created = decide(create(brand="Acme"), given().state)
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


def test_create_without_an_id_names_the_product_after_its_command_id() -> None:
    fields = {"sku": "A", "name": "A", "price": {"amount": "1", "currency": "EUR"}}
    command = parse(CreateProduct, {**fields, "commandId": "c-1"})
    assert command.id == str(uuid.uuid5(PRODUCT_ID_NAMESPACE, "c-1"))
    assert parse(CreateProduct, {**fields, "commandId": "c-1"}).id == command.id  # a retry
    anonymous = parse(CreateProduct, fields)  # no commandId either: a new one, and an id from it
    assert anonymous.id == str(uuid.uuid5(PRODUCT_ID_NAMESPACE, anonymous.command_id))
    assert decide(command, None)[0].id == command.id


def test_create_an_existing_product_is_already_exists() -> None:
    given(CREATED).when(create()).then_error(AlreadyExists)


def test_create_a_deleted_product_is_already_exists() -> None:
    given(CREATED, Deleted(id=ID)).when(create()).then_error(AlreadyExists)


@pytest.mark.parametrize("command", [update(name="x"), delete()])
def test_update_or_delete_unknown_is_not_found(command: Any) -> None:
    given().when(command).then_error(NotFound)


@pytest.mark.parametrize("command", [update(name="x"), delete()])
def test_update_or_delete_deleted_is_product_deleted(command: Any) -> None:
    given(CREATED, Deleted(id=ID)).when(command).then_error(ProductIsDeleted)


@pytest.mark.parametrize(
    "command", [update(name="x", expectedVersion=1), delete(expectedVersion=3)]
)
def test_wrong_expected_version_is_a_conflict_with_both_versions(command: Any) -> None:
    error = (
        given(CREATED, ProductUpdated(id=ID, name="Cup"))
        .when(command)
        .then_error(ConcurrencyConflict)
    )
    assert error.extensions == {"expectedVersion": command.expected_version, "actualVersion": 2}


def test_matching_expected_version_passes() -> None:
    given(CREATED).when(update(name="Cup", expectedVersion=1)).then_events(
        ProductUpdated(id=ID, name="Cup")
    )


def test_update_carries_only_the_fields_that_changed() -> None:
    changes = update(name="Mug", price={"amount": "12.5", "currency": "EUR"}, tags=["kitchen"])
    events = (
        given(CREATED)
        .when(changes)
        .then_events(ProductUpdated(id=ID, price=Money(amount=Decimal("12.50"), currency="EUR")))
    )
    assert [e.data() for e in events] == [
        {"id": ID, "price": {"currency": "EUR", "amount": "12.50"}}
    ]


def test_update_that_changes_nothing_emits_nothing() -> None:
    same = update(name="Mug", price={"amount": "10.00", "currency": "EUR"})
    given(CREATED).when(same).then_events()
    given(CREATED).when(update()).then_events()


def test_update_can_clear_optional_fields() -> None:
    state = given(CREATED, ProductUpdated(id=ID, description="Big", category="Cups")).state
    events = decide(update(description=None, category=None, tags=None), state)
    assert [e.data() for e in events] == [
        {"id": ID, "description": None, "category": None, "tags": []}
    ]
    after = fold(events, state)
    assert after is not None and (after.description, after.category, after.tags) == (None, None, ())


def test_delete_emits_deleted_and_evolve_counts_versions() -> None:
    history = given(CREATED, ProductUpdated(id=ID, name="Cup"))
    events = history.when(delete(expectedVersion=2)).then_events(Deleted(id=ID))
    final = fold(events, history.state)
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
