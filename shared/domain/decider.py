"""The product decider: `decide(command, state) -> events` and `evolve(state, event) -> state`.

Everything the write side knows about a product is `evolve` folded over its events, so the same
functions rebuild state after a restart and keep it current while the service runs. `state` is
`None` for a product that has no events yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from shared.domain.commands import AnyCommand, CreateProduct, DeleteProduct, UpdateProduct
from shared.domain.errors import AlreadyExists, ConcurrencyConflict, NotFound, ProductIsDeleted
from shared.domain.events import ProductCreated, ProductDeleted, ProductEvent, ProductUpdated
from shared.domain.money import Money


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    sku: str
    name: str
    description: str | None
    price: Money
    category: str | None
    tags: tuple[str, ...]
    brand: str | None
    version: int
    deleted: bool = False


State = Product | None
initial_state: State = None


def decide(command: AnyCommand, state: State) -> list[ProductEvent]:
    """The events a command causes in this state, or a DomainError. Never both."""
    if isinstance(command, CreateProduct):
        if state is not None:
            raise AlreadyExists(f"product {command.id} already exists")
        return [
            ProductCreated(
                id=command.id,
                sku=command.sku,
                name=command.name,
                description=command.description,
                price=command.price,
                category=command.category,
                tags=command.tags,
                brand=command.brand,
            )
        ]
    product = _existing(command, state)
    if isinstance(command, DeleteProduct):
        return [ProductDeleted(id=product.id)]
    changed = {
        field: value
        for field, value in command.changes.sent().items()
        if getattr(product, field) != value
    }
    if not changed:
        return []  # nothing to say: an update that changes nothing appends nothing
    return [ProductUpdated(id=product.id, **changed)]


def _existing(command: UpdateProduct | DeleteProduct, state: State) -> Product:
    if state is None:
        raise NotFound(f"product {command.id} does not exist")
    if state.deleted:
        raise ProductIsDeleted(f"product {command.id} was deleted")
    if command.expected_version is not None and command.expected_version != state.version:
        raise ConcurrencyConflict(command.expected_version, state.version)
    return state


def evolve(state: State, event: ProductEvent) -> State:
    """The state after one more event. The version counts the events folded so far."""
    if isinstance(event, ProductCreated):
        return Product(
            id=event.id,
            sku=event.sku,
            name=event.name,
            description=event.description,
            price=event.price,
            category=event.category,
            tags=event.tags,
            brand=event.brand,
            version=1,
        )
    if state is None:
        raise ValueError(f"{event.TYPE} for product {event.id} before its creation")
    if isinstance(event, ProductUpdated):
        return replace(state, version=state.version + 1, **event.changes())
    return replace(state, version=state.version + 1, deleted=True)


def fold(events: Iterable[ProductEvent], state: State = initial_state) -> State:
    for event in events:
        state = evolve(state, event)
    return state
