"""schema/asyncapi.yaml: valid for the official AsyncAPI parser, and true to the code."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from shared.domain.events import EVENT_TYPES
from shared.domain.upcasting import EVENT_VERSIONS, read_event
from shared.envelope import ce_type, from_record
from shared.settings import InfraSettings
from tests.support import asyncapi_parser
from tests.support.contract import ASYNCAPI, SCHEMA_DIR, asyncapi, check_record

DEFAULTS = {name: field.default for name, field in InfraSettings.model_fields.items()}
EVERY_VERSION = {f"{t}.v{v}" for t, v in EVENT_VERSIONS}
LATEST = {ce_type(cls).removeprefix("catalog.") for cls in EVENT_TYPES.values()}
ANOTHER = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def parsed() -> dict[str, Any]:
    code, summary = asyncapi_parser.parse(ASYNCAPI)
    problems = [d for d in summary["diagnostics"] if d["severity"] in ("error", "warning")]
    assert code == 0 and not problems, problems
    document: dict[str, Any] = summary["document"]
    return document


def channel(parsed: dict[str, Any], address: str) -> dict[str, Any]:
    [found] = [c for c in parsed["channels"] if c["address"] == address]
    return found


def without_parser_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_parser_ids(v) for k, v in value.items() if not k.startswith("x-parser-")}
    if isinstance(value, list):
        return [without_parser_ids(v) for v in value]
    return value


def test_the_official_parser_accepts_the_document_without_errors_or_warnings(
    parsed: dict[str, Any],
) -> None:
    assert parsed["version"].startswith("3.")
    assert parsed["title"] == "Product catalog event log"


def test_the_parser_is_not_a_rubber_stamp(tmp_path: Path) -> None:
    """A broken copy (next to a copy of the event schemas it refers to) is refused."""
    shutil.copytree(SCHEMA_DIR / "events", tmp_path / "events")
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(ASYNCAPI.read_text().replace("action: receive", "action: listen"))
    code, summary = asyncapi_parser.parse(broken)
    assert code == 1
    assert any(
        d["severity"] == "error" and "action" in d["path"] for d in summary["diagnostics"]
    ), summary["diagnostics"]
    missing = tmp_path / "missing-ref.yaml"
    missing.write_text(ASYNCAPI.read_text().replace("ProductDeleted.v1.json", "Nope.v1.json"))
    assert asyncapi_parser.parse(missing)[0] == 1


def test_the_channels_are_the_topics_the_code_creates(parsed: dict[str, Any]) -> None:
    events = channel(parsed, DEFAULTS["events_topic"])
    assert events["kafka"]["partitions"] == DEFAULTS["events_partitions"]
    assert events["kafka"]["topicConfiguration"]["retention.ms"] == -1
    dlq = channel(parsed, f"{DEFAULTS['events_topic']}.dlq")
    assert [m["id"] for m in dlq["messages"]] == ["DeadLetter"]


def test_one_message_per_event_type_and_version(parsed: dict[str, Any]) -> None:
    messages = channel(parsed, DEFAULTS["events_topic"])["messages"]
    assert {m["id"] for m in messages} == EVERY_VERSION
    for message in messages:
        type_, version = message["id"].split(".v")
        assert message["name"] == type_
        assert message["contentType"] == "application/json"
        assert message["kafka"]["key"]["format"] == "uuid"
        payload = message["payload"]
        assert payload["schemaFormat"] == "application/schema+json;version=draft-07"
        # The parser followed the $ref to the generated file of exactly this type and version.
        assert payload["schema"]["x-ce-type"] == f"catalog.{message['id']}"
        assert payload["schema"]["title"] == f"{type_} v{version}"
        [_, own] = message["headers"]["allOf"]
        assert own["properties"]["ce_type"]["const"] == f"catalog.{message['id']}"


def test_the_operations_say_what_is_written_and_what_must_be_read(
    parsed: dict[str, Any],
) -> None:
    operations = {o["id"]: o for o in parsed["operations"]}
    assert operations["appendProductEvents"]["action"] == "send"
    assert set(operations["appendProductEvents"]["messages"]) == LATEST
    assert operations["projectProductEvents"]["action"] == "receive"
    assert set(operations["projectProductEvents"]["messages"]) == EVERY_VERSION


def test_every_example_follows_the_contract_and_reads_through_the_code(
    parsed: dict[str, Any],
) -> None:
    messages = channel(parsed, DEFAULTS["events_topic"])["messages"]
    for message in messages:
        assert message["examples"], f"{message['id']} has no example"
        for example in message["examples"]:
            headers = without_parser_ids(example["headers"])
            payload = without_parser_ids(example["payload"])
            value = orjson.dumps(payload)
            key = payload["id"].encode()
            check_record(key, value, headers)
            envelope = from_record(key, value, [(k, v.encode()) for k, v in headers.items()])
            type_, version = message["id"].split(".v")
            assert envelope.event == read_event(type_, int(version), payload)
            assert envelope.type == f"catalog.{type_}.v{EVENT_TYPES[type_].VERSION}"


def _example(message: str) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    [example] = asyncapi()["components"]["messages"][message]["examples"]
    payload: dict[str, Any] = example["payload"]
    return payload["id"].encode(), payload, dict(example["headers"])


@pytest.mark.parametrize(
    ("mangle", "error"),
    [
        (lambda k, p, h: (k, p, {**h, "ce_sequence": "0"}), jsonschema.ValidationError),
        (lambda k, p, h: (k, p, {**h, "ce_specversion": "0.3"}), jsonschema.ValidationError),
        (lambda k, p, h: (k, p, {**h, "ce_id": "not-a-uuid"}), jsonschema.ValidationError),
        (
            lambda k, p, h: (k, p, {**h, "ce_time": "2026-05-02T09:30:00"}),
            jsonschema.ValidationError,
        ),
        (
            lambda k, p, h: (k, p, {n: v for n, v in h.items() if n != "ce_causationid"}),
            jsonschema.ValidationError,
        ),
        (
            lambda k, p, h: (k, p, {**h, "ce_type": "catalog.ProductCreated.v2"}),
            jsonschema.ValidationError,  # an update's data is not a creation
        ),
        (lambda k, p, h: (k, p, {**h, "ce_type": "catalog.ProductUpdated.v9"}), AssertionError),
        (
            lambda k, p, h: (k, {**p, "price": {"currency": "EUR", "amount": 14.0}}, h),
            jsonschema.ValidationError,
        ),
        (lambda k, p, h: (k, {**p, "colour": "red"}, h), jsonschema.ValidationError),
        (lambda k, p, h: (b"other", p, h), jsonschema.ValidationError),
        (lambda k, p, h: (k, p, {**h, "ce_subject": ANOTHER}), AssertionError),
        (lambda k, p, h: (k, p, {**h, "ce_traceparent": "00-xyz-01"}), jsonschema.ValidationError),
        (lambda k, p, h: (k, p, {**h, "ce_tracestate": "k=v"}), jsonschema.ValidationError),
    ],
)
def test_the_record_check_is_not_a_rubber_stamp(mangle: Any, error: type[Exception]) -> None:
    key, payload, headers = mangle(*_example("ProductUpdated.v2"))
    with pytest.raises(error):
        check_record(key, orjson.dumps(payload), headers)
