"""Version 1 of the events that have a newer version: no longer written, still in the log.

The log is kept forever, so these shapes must stay readable forever. They are frozen: never edit
them (the committed schemas schema/events/*.v1.json are generated from them and a test keeps the
two equal). Reading a v1 record validates it against its model here first, so a malformed old
record is refused with a precise reason, and then upcasts it (shared/domain/upcasting.py).

`ProductDeleted` has only a v1, which is still the current model in shared/domain/events.py.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.domain.events import (
    Category,
    Description,
    Event,
    FullRecordEvent,
    Name,
    Price,
    Sku,
    Tags,
)
from shared.domain.money import Money


class ProductCreatedV1(FullRecordEvent):
    """A product was added to the catalog: the first event of every product, stating every
    field (null or empty when unset)."""

    TYPE: ClassVar[str] = "ProductCreated"
    VERSION: ClassVar[int] = 1

    sku: Sku
    name: Name
    description: Description = None
    price: Price
    category: Category = None
    tags: Tags = ()


class ProductUpdatedV1(Event):
    """Fields of a product changed. Carries only the fields that changed: an absent field is
    unchanged; description and category present with null were cleared; tags are cleared with
    an empty list."""

    TYPE: ClassVar[str] = "ProductUpdated"
    VERSION: ClassVar[int] = 1

    name: str | None = Field(None, description="The new name; never null.")
    description: str | None = Field(None, description="The new description; null clears it.")
    price: Money | None = Field(None, description="The new price; never null.")
    category: str | None = Field(None, description="The new category; null clears it.")
    tags: tuple[str, ...] | None = Field(None, description="The new tags, replacing the old.")
