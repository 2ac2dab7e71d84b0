"""Reading every version ever written: each upcaster alone, the chain, and v1 logs folded as v2."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain import upcasting
from shared.domain.decider import fold
from shared.domain.events import EVENT_TYPES, ProductCreated, ProductDeleted, ProductUpdated
from shared.domain.money import Money
from shared.domain.upcasting import (
    EVENT_VERSIONS,
    UPCASTERS,
    UnknownEventType,
    UnsupportedVersion,
    latest_version,
    read_event,
    upcast,
)
from shared.envelope import BadRecord, from_record, to_record
from tests.support.legacy import as_v1, created_v1, deleted_v1, updated_v1
from tests.support.strategies import commands, write_side

ID = "6f1c2c6b-8d11-4a59-9a1f-3f7c2a5e8f0e"
CREATED_V1: dict[str, Any] = {
    "id": ID,
    "sku": "MUG-1",
    "name": "Mug",
    "description": None,
    "price": {"currency": "EUR", "amount": "9.90"},
    "category": "kitchen",
    "tags": ["ceramic"],
}


def test_the_code_writes_version_2_of_created_and_updated_and_1_of_deleted() -> None:
    assert {t: latest_version(t) for t in EVENT_TYPES} == {
        "ProductCreated": 2,
        "ProductUpdated": 2,
        "ProductDeleted": 1,
    }


def test_every_older_version_has_exactly_one_upcaster_to_the_next() -> None:
    older = {(t, v) for t, v in EVENT_VERSIONS if v < latest_version(t)}
    assert set(UPCASTERS) == older
    for type_, version in EVENT_VERSIONS:
        assert all((type_, v) in EVENT_VERSIONS for v in range(1, version)), "versions skip"


def test_created_v1_upcasts_by_stating_no_brand() -> None:
    assert upcast("ProductCreated", 1, CREATED_V1) == (
        "ProductCreated",
        2,
        {**CREATED_V1, "brand": None},
    )


def test_updated_v1_upcasts_unchanged_so_the_brand_stays_as_it_was() -> None:
    data = {"id": ID, "name": "Cup", "category": None}
    assert upcast("ProductUpdated", 1, data) == ("ProductUpdated", 2, data)


def test_the_latest_version_is_left_alone() -> None:
    data = {**CREATED_V1, "brand": "Acme"}
    assert upcast("ProductCreated", 2, data) == ("ProductCreated", 2, data)
    assert upcast("ProductDeleted", 1, {"id": ID}) == ("ProductDeleted", 1, {"id": ID})


def test_read_event_gives_todays_model_for_a_v1_record() -> None:
    event = read_event("ProductCreated", 1, CREATED_V1)
    assert event == ProductCreated(
        id=ID,
        sku="MUG-1",
        name="Mug",
        price=Money(amount=Decimal("9.90"), currency="EUR"),
        category="kitchen",
        tags=("ceramic",),
        brand=None,
    )
    update = read_event("ProductUpdated", 1, {"id": ID, "description": None})
    assert isinstance(update, ProductUpdated)
    assert update.changes() == {"description": None}  # null still clears; brand not touched


def test_without_the_upcaster_a_v1_creation_is_not_a_v2_one() -> None:
    """v2 has no default for `brand`, so the upcaster is what makes old records readable."""
    with pytest.raises(ValidationError, match="brand"):
        ProductCreated.model_validate(CREATED_V1)


def test_a_record_must_be_valid_for_the_version_it_claims() -> None:
    with pytest.raises(ValidationError, match="brand"):
        read_event("ProductCreated", 1, {**CREATED_V1, "brand": "Acme"})  # v1 had no brand
    with pytest.raises(ValidationError, match="brand"):
        read_event("ProductUpdated", 1, {"id": ID, "brand": "Acme"})
    with pytest.raises(ValidationError, match="brand"):
        read_event("ProductCreated", 2, CREATED_V1)  # v2 states the brand


@pytest.mark.parametrize(
    ("type_", "version", "error"),
    [
        ("ProductCreated", 3, UnsupportedVersion),
        ("ProductCreated", 0, UnsupportedVersion),
        ("ProductDeleted", 2, UnsupportedVersion),
        ("ProductRenamed", 1, UnknownEventType),
    ],
)
def test_unknown_types_and_versions_are_refused(
    type_: str, version: int, error: type[Exception]
) -> None:
    for _ in range(2):  # refused every time
        with pytest.raises(error):
            read_event(type_, version, {"id": ID})


def test_the_latest_version_is_validated_every_time() -> None:
    for _ in range(2):
        assert read_event("ProductDeleted", 1, {"id": ID}) == ProductDeleted(id=ID)
        with pytest.raises(ValidationError):
            read_event("ProductDeleted", 1, {"id": ID, "extra": 1})


def test_v1_records_go_through_the_envelope_and_come_out_as_v2() -> None:
    records = [
        created_v1(ID, "MUG-1", "Mug", "9.90", category="kitchen", tags=("ceramic",)),
        updated_v1(ID, 2, name="Cup", price={"currency": "EUR", "amount": "11.00"}),
        deleted_v1(ID, 3),
    ]
    envelopes = [from_record(*record) for record in records]
    assert [(type(e.event), e.sequence, e.type) for e in envelopes] == [
        (ProductCreated, 1, "catalog.ProductCreated.v2"),
        (ProductUpdated, 2, "catalog.ProductUpdated.v2"),
        (ProductDeleted, 3, "catalog.ProductDeleted.v1"),
    ]
    state = fold(e.event for e in envelopes)
    assert state is not None
    assert (state.name, state.price.amount, state.brand, state.deleted, state.version) == (
        "Cup",
        Decimal("11.00"),
        None,
        True,
        3,
    )


@pytest.mark.parametrize(
    ("ce_type", "reason"),
    [
        (b"catalog.ProductCreated.v3", "unsupported version of ProductCreated: 3"),
        (b"catalog.ProductCreated.v0", "unsupported version"),
        (b"catalog.ProductCreated.vx", "unknown ce_type"),
        (b"catalog.ProductCreated", "unknown ce_type"),
        (b"catalog.ProductCreated.v\xc2\xb2", "unknown ce_type"),  # a superscript two
    ],
)
def test_the_envelope_refuses_versions_it_cannot_read(ce_type: bytes, reason: str) -> None:
    key, value, headers = created_v1(ID, "MUG-1", "Mug", "9.90")
    headers = [(n, ce_type if n == "ce_type" else v) for n, v in headers]
    for _ in range(2):  # refused every time
        with pytest.raises(BadRecord, match=reason) as raised:
            from_record(key, value, headers)
        assert raised.value.kind == "type"


def test_a_version_that_is_no_longer_known_is_refused_although_read_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the code reads follows the models it has now, not the ones it had: a version that
    was known while a record was read (a deployment's model, here a v1 model under the name v0)
    and is gone again is refused as any unknown version is."""
    key, value, headers = created_v1(ID, "MUG-1", "Mug", "9.90")
    headers = [(n, b"catalog.ProductCreated.v0" if n == "ce_type" else v) for n, v in headers]
    with monkeypatch.context() as patch:
        v1 = upcasting.EVENT_VERSIONS[("ProductCreated", 1)]
        patch.setitem(upcasting.EVENT_VERSIONS, ("ProductCreated", 0), v1)
        patch.setitem(upcasting.UPCASTERS, ("ProductCreated", 0), lambda data: data)
        assert from_record(key, value, headers).event.id == ID
    with pytest.raises(BadRecord, match="unsupported version") as raised:
        from_record(key, value, headers)
    assert raised.value.kind == "type"


@given(commands, st.randoms(use_true_random=False))
def test_a_log_mixing_v1_and_v2_folds_like_the_all_v2_log(batch: list[Any], rng: Any) -> None:
    """Any event v1 could express may be in the log as v1: the state is the same."""
    log, states = write_side(batch)
    mixed = []
    for envelope in log:
        old = as_v1(envelope)
        mixed.append(old if old is not None and rng.random() < 0.5 else to_record(envelope))
    read = [from_record(*record) for record in mixed]
    assert [e.event for e in read] == [e.event for e in log]
    by_product: dict[str, list[Any]] = {}
    for envelope in read:
        by_product.setdefault(envelope.product_id, []).append(envelope.event)
    assert {pid: fold(events) for pid, events in by_product.items()} == states
