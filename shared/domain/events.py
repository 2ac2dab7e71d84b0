"""Domain events: the facts the log keeps forever, in the version the code writes today.

The JSON form of each model (camelCase, money as a decimal string) is exactly the value of a
record on the topic, so outside consumers read the same shape the code writes, and the JSON
Schemas in schema/events/ are generated from these models (`python -m shared.schemas`). `TYPE`
and `VERSION` name the CloudEvents `type` together (see shared/envelope.py).

A model here changes only by becoming a new version: the old shape moves, frozen, to
shared/domain/events_v1.py (or a later `events_vN.py`), and an upcaster in
shared/domain/upcasting.py turns records of the old shape into this one. Docstrings and field
descriptions end up in the published schemas, so they are written for readers outside this repo.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.domain.money import Money

ProductIdField = Annotated[
    str,
    Field(
        description="The product's id (a UUID); also the record key and `ce_subject`.",
        json_schema_extra={"format": "uuid"},
    ),
]
Sku = Annotated[str, Field(description="Stock-keeping unit: letters, digits, '-' or '_'.")]
Name = Annotated[str, Field(description="Display name.")]
Description = Annotated[str | None, Field(description="Free text; null when there is none.")]
Price = Annotated[Money, Field(description="The price.")]
Category = Annotated[str | None, Field(description="The category; null when there is none.")]
Tags = Annotated[tuple[str, ...], Field(description="Tags, in the order given; may be empty.")]
Brand = Annotated[str | None, Field(description="The brand; null when there is none.")]


class Event(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    id: ProductIdField

    def data(self) -> dict[str, Any]:
        """The record value: only the fields this event carries."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class FullRecordEvent(Event):
    """An event whose record always states every field, also the empty ones.

    Its schema says so too (every property required), so a consumer can rely on each key.
    """

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class ProductCreated(FullRecordEvent):
    """A product was added to the catalog: the first event of every product, stating every
    field (null or empty when unset). Version 2 added `brand`."""

    TYPE = "ProductCreated"
    VERSION = 2

    sku: Sku
    name: Name
    description: Description = None
    price: Price
    category: Category = None
    tags: Tags = ()
    # No default, unlike the older optional fields: a v1 record has no `brand` key, so it
    # cannot pass for v2 unless the upcaster (shared/domain/upcasting.py) stated the brand.
    brand: Brand


class ProductUpdated(Event):
    """Fields of a product changed. Carries only the fields that changed: an absent field is
    unchanged; description, category and brand present with null were cleared; tags are
    cleared with an empty list. Version 2 added `brand`."""

    TYPE = "ProductUpdated"
    VERSION = 2

    name: str | None = Field(None, description="The new name; never null.")
    description: str | None = Field(None, description="The new description; null clears it.")
    price: Money | None = Field(None, description="The new price; never null.")
    category: str | None = Field(None, description="The new category; null clears it.")
    tags: tuple[str, ...] | None = Field(None, description="The new tags, replacing the old.")
    brand: str | None = Field(None, description="The new brand; null clears it.")

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set if name != "id"}


class ProductDeleted(FullRecordEvent):
    """A product was removed from the catalog. No event of that product follows it."""

    TYPE = "ProductDeleted"


ProductEvent = ProductCreated | ProductUpdated | ProductDeleted
EVENT_TYPES: dict[str, type[ProductEvent]] = {
    cls.TYPE: cls for cls in (ProductCreated, ProductUpdated, ProductDeleted)
}
