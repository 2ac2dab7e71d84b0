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
    field_validator,
    model_validator,
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

# createProduct without an `id` names the product UUIDv5(PRODUCT_ID_NAMESPACE, commandId): a
# retried create lands on the same product, whose recent commands answer the retry.
PRODUCT_ID_NAMESPACE = uuid.UUID("5f0c8a4e-1d2b-4c3a-9e8f-7a6b5c4d3e2f")


def product_id_for(command_id: str) -> str:
    """The id a create without one gets: derived from its commandId, so retries agree on it."""
    return str(uuid.uuid5(PRODUCT_ID_NAMESPACE, command_id))


class Command(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    command_id: CommandId = Field(default_factory=lambda: str(uuid.uuid4()))


class CreateProduct(Command):
    id: ProductId
    sku: Sku
    name: Name
    description: Description | None = None
    price: Money
    category: Category | None = None
    tags: Tags = ()
    brand: Brand | None = None

    @model_validator(mode="before")
    @classmethod
    def _id_from_command_id(cls, data: Any) -> Any:
        """A create without an id gets one derived from its commandId (a new one if absent)."""
        if not isinstance(data, dict) or "id" in data:
            return data
        command_id = data.get("commandId", data.get("command_id"))
        if command_id is None:
            command_id = str(uuid.uuid4())
            data = {**data, "commandId": command_id}
        if not isinstance(command_id, str) or not 0 < len(command_id) <= 128:
            return data  # the commandId's own validation refuses it, naming that field
        return {**data, "id": product_id_for(command_id)}


class ProductChanges(BaseModel):
    """The fields an update may set. A field is a change only if the client sent it."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel)

    name: Name | None = None
    description: Description | None = None
    price: Money | None = None
    category: Category | None = None
    tags: Tags | None = None
    brand: Brand | None = None

    @field_validator("name", "price", mode="before")
    @classmethod
    def _not_cleared(cls, value: Any) -> Any:
        """Only sent values reach here: a product always has a name and a price."""
        if value is None:
            raise ValueError("cannot be cleared")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _null_clears_tags(cls, value: Any) -> Any:
        return () if value is None else value

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
