"""A product's write-side state: what the decider needs, plus the answers to its recent commands.

This is what the changelog topic (`<events topic>.state`, format in shared/changelog.py) holds,
one record per product, written in the same Kafka transaction as the product's events. An owner that
takes a partition reads it back instead of folding the product's history, so both halves of a
product's state must be in it:

- `product`: the decider's state (`shared.domain.decider.Product`, deleted ones included, so a
  create of a deleted id is still refused);
- `recent`: the product's last K handled commands with their answers (commandId, version,
  eventId, offset). A retry with the same commandId is answered from here, so idempotency
  memory is bounded by K per product instead of growing with every command ever handled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import orjson
from pydantic import ValidationError

from shared.changelog import WriteStateValue
from shared.domain.decider import Product, State, evolve
from shared.domain.versions import Verdict, verdict
from shared.envelope import Envelope, Position


@dataclass(frozen=True, slots=True)
class Answer:
    """What a mutation returns; remembered per product so a retry gets the same answer."""

    id: str
    version: int
    event_id: str | None = None
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class Remembered:
    """One command that appended an event to the product: enough to answer its retry."""

    command_id: str
    version: int
    event_id: str
    offset: int


@dataclass(frozen=True, slots=True)
class WriteState:
    product: Product
    recent: tuple[Remembered, ...] = ()

    @property
    def version(self) -> int:
        return self.product.version

    def answer_for(self, command_id: str, partition: int) -> Answer | None:
        for handled in self.recent:
            if handled.command_id == command_id:
                position = Position(partition, handled.offset)
                return Answer(self.product.id, handled.version, handled.event_id, position)
        return None


class Gap(ValueError):
    """An event beyond the product's next version: an earlier one is missing from the log."""


def after(
    state: WriteState | None, envelope: Envelope, offset: int, horizon: int
) -> WriteState | None:
    """The state after one logged event, under the version rule (shared/domain/versions.py).

    A redelivered event (at or below the version) changes nothing; one beyond the next version
    raises Gap. The event's command is remembered, keeping the last `horizon` of them.
    """
    current: State = state.product if state else None
    ruling = verdict(current.version if current else 0, envelope.sequence)
    if ruling is Verdict.SKIP:
        return state
    if ruling is Verdict.GAP:
        raise Gap(
            f"product {envelope.product_id} is at version {current.version if current else 0} "
            f"but the next event in the log has sequence {envelope.sequence}"
        )
    product = evolve(current, envelope.event)
    assert product is not None  # evolve returns a product for every event
    recent = state.recent if state else ()
    if envelope.causation_id:
        handled = Remembered(envelope.causation_id, envelope.sequence, envelope.event_id, offset)
        recent = (*recent, handled)[-horizon:] if horizon > 0 else ()
    return WriteState(product, recent)


def bounded(state: WriteState, horizon: int) -> WriteState:
    """The state keeping only its last `horizon` commands (after K was lowered, say)."""
    if len(state.recent) <= horizon:
        return state
    return replace(state, recent=state.recent[len(state.recent) - horizon :] if horizon else ())


class CorruptState(ValueError):
    """A changelog value that is not a product's write-side state; the reason says why."""


def encode(state: WriteState) -> bytes:
    product = state.product
    return orjson.dumps(
        {
            "id": product.id,
            "version": product.version,
            "deleted": product.deleted,
            "sku": product.sku,
            "name": product.name,
            "description": product.description,
            "price": {
                "currency": product.price.currency,
                "amount": format(product.price.amount, "f"),
            },
            "category": product.category,
            "tags": product.tags,
            "brand": product.brand,
            "recent": [
                {
                    "commandId": r.command_id,
                    "version": r.version,
                    "eventId": r.event_id,
                    "offset": r.offset,
                }
                for r in state.recent
            ],
        }
    )


def decode(product_id: str, value: bytes) -> WriteState:
    """The state a changelog value holds, checked in full: a record is never trusted blindly."""
    try:
        parsed = WriteStateValue.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "value"
        raise CorruptState(f"{where}: {first['msg']}") from None
    if parsed.id != product_id:
        raise CorruptState(f"the value is product {parsed.id!r} but the key is {product_id!r}")
    product = Product(
        id=parsed.id,
        sku=parsed.sku,
        name=parsed.name,
        description=parsed.description,
        price=parsed.price,
        category=parsed.category,
        tags=parsed.tags,
        brand=parsed.brand,
        version=parsed.version,
        deleted=parsed.deleted,
    )
    recent = tuple(Remembered(r.command_id, r.version, r.event_id, r.offset) for r in parsed.recent)
    return WriteState(product, recent)
