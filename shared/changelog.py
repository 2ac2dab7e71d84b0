"""The write side's state changelog on Kafka: the record format of `<events topic>.state`.

Internal to the command service: outside consumers should leave the topic alone (it is
documented in schema/asyncapi.yaml, marked internal, and its value's JSON Schema is
schema/changelog/ProductWriteState.v1.json, generated from `WriteStateValue` by
`python -m shared.schemas`). It lives here, beside the event envelope, because it is a contract
between every version of the command service that will ever read what another one wrote.

A record: key = the product id (UTF-8), value = `WriteStateValue` as JSON (or null: the key
has no state, a tombstone), headers:
- `catalog_schema`: the value's schema name and version (`SCHEMA`); a record without it is not
  one of ours;
- `catalog_through`: the event-partition offset the partition's state was complete through
  when the record was written (its transaction's last event): an owner restoring the partition
  folds only the events after the last record's offset.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from shared.domain.money import Money

SCHEMA = "catalog.ProductWriteState.v1"
SCHEMA_HEADER = "catalog_schema"
THROUGH_HEADER = "catalog_through"


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class WriteStateValue(_Model):
    """One product's write-side state: what the command service decides commands against."""

    id: str = Field(description="The product id; also the record key.")
    version: int = Field(ge=1, description="How many events the product has (its ce_sequence).")
    deleted: bool = Field(description="Whether the product was deleted.")
    sku: str
    name: str
    description: str | None
    price: Money
    category: str | None
    tags: tuple[str, ...]
    brand: str | None
    recent_commands: tuple[str, ...] = Field(
        description="Fingerprints of the commandIds of the product's last events, oldest first "
        "('' for an event without one): the last event's is its `version`, the one before it "
        "`version - 1`, and so on. A retry with one of these commandIds is answered with its "
        "first answer. A fingerprint is the base64url of the commandId's 96-bit BLAKE2b hash."
    )
    recent_offsets: tuple[int, ...] = Field(
        description="The offsets of those events in the product's event-topic partition."
    )

    @model_validator(mode="after")
    def _aligned(self) -> WriteStateValue:
        if len(self.recent_commands) != len(self.recent_offsets):
            raise ValueError("recentCommands and recentOffsets differ in length")
        if len(self.recent_commands) > self.version:
            raise ValueError("more recent commands than events")
        return self
