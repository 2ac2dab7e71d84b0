"""Domain events: the facts the log keeps forever.

The JSON form of each model (camelCase, money as a decimal string) is exactly the value of a
record on the topic, so outside consumers read the same shape the code writes. `TYPE` and
`VERSION` name the CloudEvents `type` together (see shared/envelope.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shared.domain.money import Money


class Event(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    id: str

    def data(self) -> dict[str, Any]:
        """The record value: only the fields this event carries."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class ProductCreated(Event):
    TYPE = "ProductCreated"

    sku: str
    name: str
    description: str | None = None
    price: Money
    category: str | None = None
    tags: tuple[str, ...] = ()

    def data(self) -> dict[str, Any]:
        # A creation states every field, also the empty ones: the first event is the full record.
        return self.model_dump(mode="json", by_alias=True)


class ProductUpdated(Event):
    """Carries only the fields that changed; a field present with null was cleared."""

    TYPE = "ProductUpdated"

    name: str | None = None
    description: str | None = None
    price: Money | None = None
    category: str | None = None
    tags: tuple[str, ...] | None = None

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set if name != "id"}


class ProductDeleted(Event):
    TYPE = "ProductDeleted"


ProductEvent = ProductCreated | ProductUpdated | ProductDeleted
EVENT_TYPES: dict[str, type[ProductEvent]] = {
    cls.TYPE: cls for cls in (ProductCreated, ProductUpdated, ProductDeleted)
}
