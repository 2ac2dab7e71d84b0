"""Commands: what a client asks of the catalog, validated on construction.

Validation lives here, not in the decider, because it needs no state: a command that exists is
well-formed, and the decider only applies the rules that depend on the product's history.
Field names are the GraphQL input's (camelCase), so an error names the field the client sent.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from shared.domain.errors import InvalidInput
from shared.domain.money import Money

MAX_TAGS = 20
MAX_NAME = 200
MAX_CATEGORY = 100
MAX_TAG = 50


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


ProductId = Annotated[str, AfterValidator(_uuid)]
CommandId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_NAME), AfterValidator(_not_blank)
]
Description = Annotated[str, StringConstraints(max_length=5000)]
Category = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_CATEGORY), AfterValidator(_not_blank)
]
Brand = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_not_blank)]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TAG), AfterValidator(_not_blank)
]
Tags = Annotated[tuple[Tag, ...], Field(max_length=MAX_TAGS)]
Version = Annotated[int, Field(ge=0)]


class Command(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    command_id: CommandId = Field(default_factory=lambda: str(uuid.uuid4()))


class CreateProduct(Command):
    id: ProductId = Field(default_factory=lambda: str(uuid.uuid4()))
    sku: Sku
    name: Name
    description: Description | None = None
    price: Money
    category: Category | None = None
    tags: Tags = ()
    brand: Brand | None = None


class ProductChanges(BaseModel):
    """The fields an update may set. A field is a change only if the client sent it."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel)

    name: Name | None = None
    description: Description | None = None
    price: Money | None = None
    category: Category | None = None
    tags: Tags | None = None
    brand: Brand | None = None

    def sent(self) -> dict[str, Any]:
        """The fields the client sent, with their values (None clears an optional field)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class UpdateProduct(Command):
    id: ProductId
    expected_version: Version | None = None
    changes: ProductChanges = ProductChanges()


class DeleteProduct(Command):
    id: ProductId
    expected_version: Version | None = None


AnyCommand = CreateProduct | UpdateProduct | DeleteProduct

_REQUIRED_ON_UPDATE = ("name", "price")
C = TypeVar("C", bound=BaseModel)


def parse(model: type[C], data: dict[str, Any]) -> C:
    """Build a command from client input, turning the first validation error into InvalidInput."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"] if not isinstance(part, int))
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidInput(field or "input", message) from None


def parse_update(data: dict[str, Any]) -> UpdateProduct:
    """An update's changes sit beside its id in the GraphQL input; split them out."""
    meta: dict[str, Any] = {k: data[k] for k in ("id", "expectedVersion", "commandId") if k in data}
    changes = {k: v for k, v in data.items() if k not in meta}
    for field in _REQUIRED_ON_UPDATE:
        if field in changes and changes[field] is None:
            raise InvalidInput(field, "cannot be cleared")
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    return parse(UpdateProduct, {**meta, "changes": parse(ProductChanges, changes)})
