"""A product's write-side state: what the decider needs, plus its recent commands.

This is what the changelog topic (`<events topic>.state`, format in shared/changelog.py) holds,
one record per product, written in the same Kafka transaction as the product's events. An owner
that takes a partition reads it back instead of folding the product's history, so both halves
of a product's state must be in it:

- `product`: the decider's state (`shared.domain.decider.Product`, deleted ones included, so a
  create of a deleted id is still refused);
- the product's last K events' commands: a fingerprint of each commandId and the event's offset
  (the events' versions follow from the product's, since every event adds one). A retry with
  one of those commandIds is answered with its first answer: version and position from here,
  the event id read back from the event itself at that offset. Idempotency memory is thus a few
  dozen bytes per remembered command, bounded by K per product, instead of growing with every
  command ever handled.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from shared.changelog import WriteStateValue
from shared.domain.decider import Product, State, evolve
from shared.domain.versions import Verdict, verdict
from shared.envelope import Envelope, Position


@dataclass(frozen=True, slots=True)
class Answer:
    """What a mutation returns; a retry of a command that appended an event gets the same."""

    id: str
    version: int
    event_id: str | None = None
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class Remembered:
    """Where a product's state remembers a command's event: its version and offset."""

    product_id: str
    command_id: str
    version: int
    position: Position


def fingerprint(command_id: str) -> str:
    """A commandId in 16 characters (96 bits of BLAKE2b): what the state remembers of it.

    A match is confirmed against the event itself before a retry is answered, so two commandIds
    sharing a fingerprint could never be confused, only cost a read.
    """
    digest = hashlib.blake2b(command_id.encode(), digest_size=12).digest()
    return base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class WriteState:
    product: Product
    commands: tuple[str, ...] = ()  # fingerprints of the last events' commandIds, oldest first
    offsets: tuple[int, ...] = ()  # those events' offsets

    @property
    def version(self) -> int:
        return self.product.version

    def remembered(self, command_id: str, partition: int) -> Remembered | None:
        """Where the event of a command the product remembers is, if it remembers it."""
        if not self.commands:
            return None
        mark = fingerprint(command_id)
        first_version = self.product.version - len(self.commands) + 1
        for i in range(len(self.commands) - 1, -1, -1):
            if self.commands[i] == mark:
                position = Position(partition, self.offsets[i])
                return Remembered(self.product.id, command_id, first_version + i, position)
        return None


class Gap(ValueError):
    """An event beyond the product's next version: an earlier one is missing from the log."""


def after(
    state: WriteState | None, envelope: Envelope, offset: int, horizon: int
) -> WriteState | None:
    """The state after one logged event, under the version rule (shared/domain/versions.py).

    A redelivered event (at or below the version) changes nothing; one beyond the next version
    raises Gap. The event's command is remembered, keeping the last `horizon` of them (an event
    without a commandId takes its place with an empty fingerprint, which nothing matches).
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
    if horizon <= 0:
        return WriteState(product)
    mark = fingerprint(envelope.causation_id) if envelope.causation_id else ""
    commands = (*(state.commands if state else ()), mark)[-horizon:]
    offsets = (*(state.offsets if state else ()), offset)[-horizon:]
    return WriteState(product, commands, offsets)


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
            "recentCommands": state.commands,
            "recentOffsets": state.offsets,
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
    return WriteState(product, parsed.recent_commands, parsed.recent_offsets)
