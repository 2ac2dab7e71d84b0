"""CloudEvents 1.0 over Kafka, binary content mode: how a domain event becomes a record.

The record key is the product id, so all events of a product share one partition and keep
their order. Attributes travel as `ce_*` headers and the value is the event's JSON data, so a
consumer that knows nothing of this code (kcat, a Java service) can still route and read it.

Who asked for the event travels in the CloudEvents Auth Context extension: `ce_authtype`
(`app_user`: a caller authenticated by a bearer token) and `ce_authid` (the token's `sub`).
Records written before authentication existed carry neither.

The trace the event was written in travels in the CloudEvents distributed-tracing extension:
`ce_traceparent` and `ce_tracestate`, W3C Trace Context as text (shared/adapters/tracing.py
makes and reads them). Optional: records written before tracing existed, and records of a
command service that neither traced nor was called with a `traceparent`, carry neither, and
read exactly as before.

`ce_type` names the event type and its schema version (`catalog.ProductCreated.v2`). Records are
written in the latest version of their type; reading accepts every version ever written and
upcasts it (shared/domain/upcasting.py), so the command service's fold and the projector both
see old records through this one path. Documented for outsiders in schema/asyncapi.yaml.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from shared.domain.events import Event, ProductEvent
from shared.domain.upcasting import UnknownEventType, UnsupportedVersion, model_for, read_event

SPEC_VERSION = "1.0"
SOURCE = "/catalog/command-service"
TYPE_PREFIX = "catalog."
AUTH_TYPE = "app_user"  # CloudEvents Auth Context: an end user of the application
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class TraceContext:
    """W3C Trace Context as text: `traceparent` (version-traceid-spanid-flags) and `tracestate`
    ("" when there is none). Plain data, so the pure parts (planning, the read models) carry a
    trace without knowing OpenTelemetry."""

    traceparent: str
    tracestate: str = ""


@dataclass(frozen=True, slots=True)
class Envelope:
    """An event with the attributes the log adds to it."""

    event: ProductEvent
    event_id: str
    sequence: int
    time: datetime
    causation_id: str
    correlation_id: str
    source: str = SOURCE
    auth_id: str | None = None
    trace: TraceContext | None = None  # the trace the event was written in

    @property
    def product_id(self) -> str:
        return self.event.id

    @property
    def type(self) -> str:
        return ce_type(type(self.event))


@dataclass(frozen=True, slots=True)
class Position:
    partition: int
    offset: int


class BadRecord(ValueError):
    """A record that is not one of our events; the reason says why, for the dead-letter topic.

    `kind` is one of a few fixed words (headers, type, json, data) for metrics labels, which
    must not take their values from untrusted input.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


def ce_type(event_class: type[Event]) -> str:
    """The CloudEvents type of an event class: its name and schema version."""
    return f"{TYPE_PREFIX}{event_class.TYPE}.v{event_class.VERSION}"


def new_envelope(
    event: ProductEvent,
    sequence: int,
    causation_id: str,
    correlation_id: str,
    auth_id: str | None = None,
    trace: TraceContext | None = None,
) -> Envelope:
    return Envelope(
        event=event,
        event_id=str(uuid.uuid4()),
        sequence=sequence,
        time=datetime.now(UTC),
        causation_id=causation_id,
        correlation_id=correlation_id,
        auth_id=auth_id,
        trace=trace,
    )


def to_record(envelope: Envelope) -> tuple[bytes, bytes, Headers]:
    """(key, value, headers) of the Kafka record for an envelope."""
    attributes = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": envelope.event_id,
        "ce_source": envelope.source,
        "ce_type": envelope.type,
        "ce_time": envelope.time.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "ce_subject": envelope.product_id,
        "content-type": "application/json",
        "ce_sequence": str(envelope.sequence),
        "ce_correlationid": envelope.correlation_id,
        "ce_causationid": envelope.causation_id,
    }
    if envelope.auth_id is not None:
        attributes["ce_authtype"] = AUTH_TYPE
        attributes["ce_authid"] = envelope.auth_id
    if envelope.trace is not None:
        attributes["ce_traceparent"] = envelope.trace.traceparent
        if envelope.trace.tracestate:
            attributes["ce_tracestate"] = envelope.trace.tracestate
    headers = [(name, value.encode()) for name, value in attributes.items()]
    key = envelope.product_id.encode()
    return key, orjson.dumps(envelope.event.data()), headers


_REQUIRED = ("ce_specversion", "ce_id", "ce_type", "ce_time", "ce_subject", "ce_sequence")


def from_record(key: bytes | None, value: bytes | None, headers: Any) -> Envelope:
    """Parse a Kafka record back into an envelope, or raise BadRecord saying what is wrong."""
    try:
        attrs = {name: raw.decode() for name, raw in headers or ()}
    except (UnicodeDecodeError, AttributeError, ValueError):
        raise BadRecord("headers", "headers are not UTF-8 text") from None
    missing = [name for name in _REQUIRED if name not in attrs]
    if missing:
        raise BadRecord("headers", f"missing headers: {', '.join(missing)}")
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise BadRecord("headers", f"unsupported ce_specversion {attrs['ce_specversion']!r}")
    name, version = parse_type(attrs["ce_type"])
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise BadRecord("json", f"value is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRecord("json", "value is not a JSON object")
    try:
        event = read_event(name, version, data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRecord(
            "data", f"invalid {name}.v{version} data at {where}: {first['msg']}"
        ) from None
    if event.id != attrs["ce_subject"] or (
        key is not None and key.decode(errors="replace") != event.id
    ):
        raise BadRecord("data", "record key, ce_subject and data id disagree")
    try:
        sequence = int(attrs["ce_sequence"])
        time = datetime.fromisoformat(attrs["ce_time"])
    except ValueError as exc:
        raise BadRecord("headers", f"bad ce_sequence or ce_time: {exc}") from None
    if sequence < 1:
        raise BadRecord("headers", f"ce_sequence must be >= 1, got {sequence}")
    traceparent = attrs.get("ce_traceparent")
    return Envelope(
        event=event,
        event_id=attrs["ce_id"],
        sequence=sequence,
        time=time,
        causation_id=attrs.get("ce_causationid", ""),
        correlation_id=attrs.get("ce_correlationid", ""),
        source=attrs.get("ce_source", ""),
        auth_id=attrs.get("ce_authid"),
        # Kept as written; a malformed one is ignored where it would be used (a trace is
        # never a reason to refuse an event).
        trace=TraceContext(traceparent, attrs.get("ce_tracestate", "")) if traceparent else None,
    )


def parse_type(type_: str) -> tuple[str, int]:
    """(event type, schema version) of a `ce_type` such as `catalog.ProductCreated.v2`.

    Any version ever written is accepted (older ones are upcast by `read_event`); a version
    newer than this code, or a type it never wrote, is a BadRecord.
    """
    name, _, version = type_.removeprefix(TYPE_PREFIX).rpartition(".v")
    if (
        not type_.startswith(TYPE_PREFIX)
        or not name
        or not (version.isascii() and version.isdigit())
    ):
        raise BadRecord("type", f"unknown ce_type {type_!r}")
    try:
        model_for(name, int(version))
    except UnknownEventType:
        raise BadRecord("type", f"unknown ce_type {type_!r}") from None
    except UnsupportedVersion as exc:
        raise BadRecord("type", str(exc)) from None
    return name, int(version)
