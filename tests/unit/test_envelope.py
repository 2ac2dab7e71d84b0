"""The record format (docs/architecture.md, "Contracts"; schema/asyncapi.yaml), and the reasons
given for records that are not ours."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from shared.domain.events import ProductCreated, ProductUpdated
from shared.domain.money import Money
from shared.envelope import BadRecord, TraceContext, from_record, new_envelope, to_record

ID = "6f1c2c6b-8d11-4a59-9a1f-3f7c2a5e8f0e"
CREATED = ProductCreated(
    id=ID, sku="MUG-1", name="Mug", price=Money(amount=Decimal("10"), currency="EUR"), brand=None
)


def test_record_is_cloudevents_binary_mode() -> None:
    key, value, headers = to_record(new_envelope(CREATED, 1, "cmd-1", "corr-1"))
    attrs = {name: raw.decode() for name, raw in headers}
    assert key == ID.encode()
    assert orjson.loads(value)["price"] == {"amount": "10.00", "currency": "EUR"}
    assert attrs["ce_specversion"] == "1.0"
    assert attrs["ce_type"] == "catalog.ProductCreated.v2"
    assert attrs["ce_subject"] == ID and attrs["ce_sequence"] == "1"
    assert attrs["ce_causationid"] == "cmd-1" and attrs["ce_correlationid"] == "corr-1"
    assert attrs["content-type"] == "application/json"
    assert attrs["ce_time"].endswith("Z") and len(attrs["ce_id"]) == 36


def _record() -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return to_record(new_envelope(ProductUpdated(id=ID, name="Cup"), 2, "c", "c"))


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda k, v, h: (k, b"{not json", h), "not JSON"),
        (lambda k, v, h: (k, b"[1]", h), "not a JSON object"),
        (lambda k, v, h: (k, v, []), "missing headers"),
        (
            lambda k, v, h: (
                k,
                v,
                [(n, b"catalog.Nope.v1" if n == "ce_type" else r) for n, r in h],
            ),
            "unknown ce_type",
        ),
        (
            lambda k, v, h: (
                k,
                v,
                [(n, b"catalog.ProductUpdated.v9" if n == "ce_type" else r) for n, r in h],
            ),
            "unsupported version",
        ),
        (
            lambda k, v, h: (k, v, [(n, b"zero" if n == "ce_sequence" else r) for n, r in h]),
            "bad ce_sequence",
        ),
        (lambda k, v, h: (b"other", v, h), "disagree"),
        (
            lambda k, v, h: (k, b'{"id": "%s", "price": 5}' % ID.encode(), h),
            "invalid ProductUpdated",
        ),
    ],
)
def test_bad_records_are_refused_with_a_reason(mangle: object, reason: str) -> None:
    key, value, headers = mangle(*_record())  # type: ignore[operator]
    with pytest.raises(BadRecord, match=reason):
        from_record(key, value, headers)


def test_the_trace_travels_as_the_cloudevents_distributed_tracing_extension() -> None:
    caller = TraceContext("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k=v,a=b")
    _, _, headers = to_record(new_envelope(CREATED, 1, "c", "r", trace=caller))
    attrs = dict(headers)
    assert attrs["ce_traceparent"] == caller.traceparent.encode()
    assert attrs["ce_tracestate"] == b"k=v,a=b"
    assert from_record(*to_record(new_envelope(CREATED, 1, "c", "r", trace=caller))).trace == caller
    # No tracestate, no header; no trace (an old record, an untraced request), neither.
    without_state = TraceContext(caller.traceparent)
    _, _, headers = to_record(new_envelope(CREATED, 1, "c", "r", trace=without_state))
    assert "ce_tracestate" not in dict(headers)
    key, value, headers = to_record(new_envelope(CREATED, 1, "c", "r"))
    assert not {"ce_traceparent", "ce_tracestate"} & dict(headers).keys()
    assert from_record(key, value, headers).trace is None
