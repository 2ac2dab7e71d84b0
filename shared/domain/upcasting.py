"""Reading any version of an event ever written: validate it as that version, then upcast it.

The log outlives the code that wrote it, so every reader — the command service folding the log,
the projector, the query service's time travel over stored history — goes through `read_event`
and sees only today's models (shared/domain/events.py). The decider and the projections never
learn that older shapes exist.

An upcaster is a pure function from the data of version N to the data of version N+1 of the
same type; `upcast` chains them up to the latest version. Each step is small and tested on its
own, and a record several versions old takes every step in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.domain.events import (
    EVENT_TYPES,
    Event,
    ProductCreated,
    ProductDeleted,
    ProductEvent,
    ProductUpdated,
)
from shared.domain.events_v1 import ProductCreatedV1, ProductUpdatedV1

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

# Every (type, version) the log may hold, with the model that reads it.
EVENT_VERSIONS: dict[tuple[str, int], type[Event]] = {
    (cls.TYPE, cls.VERSION): cls
    for cls in (
        ProductCreatedV1,
        ProductCreated,
        ProductUpdatedV1,
        ProductUpdated,
        ProductDeleted,
    )
}


class UnknownEventType(ValueError):
    """No version of this type was ever written by the catalog."""


class UnsupportedVersion(ValueError):
    """A version of a known type that this code cannot read (written by newer code)."""


def _created_v1_to_v2(data: Data) -> Data:
    """v2 states the brand of every new product; products created under v1 had none."""
    return {**data, "brand": None}


def _updated_v1_to_v2(data: Data) -> Data:
    """A v1 update could not change the brand, so it reads unchanged: an absent field is
    unchanged. The version still had to change, because v2 admits a key v1 did not."""
    return data


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("ProductCreated", 1): _created_v1_to_v2,
    ("ProductUpdated", 1): _updated_v1_to_v2,
}


def latest_version(type_: str) -> int:
    try:
        return EVENT_TYPES[type_].VERSION
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_!r}") from None


def model_for(type_: str, version: int) -> type[Event]:
    """The model of one version of a type, or UnknownEventType / UnsupportedVersion."""
    latest = latest_version(type_)
    model = EVENT_VERSIONS.get((type_, version))
    if model is None:
        newer = " (newer than this code)" if version > latest else ""
        raise UnsupportedVersion(f"unsupported version of {type_}: {version}{newer}")
    return model


def upcast(type_: str, version: int, data: Data) -> tuple[str, int, Data]:
    """The data of (type, version) rewritten in the latest version of its type.

    Returns the type too, so that a future step may rename a type without changing callers.
    """
    model_for(type_, version)
    latest = latest_version(type_)
    while version < latest:
        data = UPCASTERS[(type_, version)](data)
        version += 1
    return type_, version, data


def read_event(type_: str, version: int, data: Data) -> ProductEvent:
    """The current event for a record's (type, version, data).

    Raises UnknownEventType, UnsupportedVersion or pydantic's ValidationError. Old data is first
    validated as its own version — a record must be valid for the version it claims — and then
    upcast from its canonical form, so an upcaster only ever sees well-formed input.
    """
    model = model_for(type_, version)
    if version == latest_version(type_):
        return EVENT_TYPES[type_].model_validate(data)
    old = model.model_validate(data)
    type_, _, data = upcast(type_, version, old.data())
    return EVENT_TYPES[type_].model_validate(data)
