"""The published event contract (schema/asyncapi.yaml and schema/events/*.json) as validators.

A record is checked the way an outside consumer would check it with nothing but the documents:
its `ce_type` selects the AsyncAPI message, whose headers schema validates the headers and whose
payload schema (a `$ref` into schema/events/) validates the value. References are resolved with
the `referencing` library over the files themselves, so a broken `$ref` fails here too.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from shared.envelope import BadRecord, from_record
from tests.support.infra import ROOT
from tests.support.kafka import read_all

SCHEMA_DIR = ROOT / "schema"
ASYNCAPI = SCHEMA_DIR / "asyncapi.yaml"
ASYNCAPI_URI = ASYNCAPI.as_uri()
CHANNEL = "productEvents"


def _date_time(value: object) -> bool:
    """RFC 3339 date-time: a date, a 'T', a time and an explicit offset (or Z)."""
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_date_time)
FORMATS.checks("uuid")(_uuid)


@cache
def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    return document


@cache
def registry() -> Registry[Any]:
    resources: list[tuple[str, Resource[Any]]] = [
        (ASYNCAPI_URI, DRAFT7.create_resource(asyncapi()))
    ]
    for path in sorted((SCHEMA_DIR / "events").glob("*.json")):
        resources.append((path.as_uri(), DRAFT7.create_resource(json.loads(path.read_text()))))
    return Registry().with_resources(resources)


def _inline(node: Any, resolver: Any) -> Any:
    """`node` with every $ref replaced by what it points to (our schemas have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            found = resolver.lookup(node["$ref"])
            return _inline(found.contents, found.resolver)
        return {key: _inline(value, resolver) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, resolver) for value in node]
    return node


@cache
def resolved(pointer: str) -> Any:
    """The part of asyncapi.yaml at a JSON pointer, every $ref (also into events/) resolved.

    Resolving up front, once, also makes validation several times faster than following the
    references for each record, which matters for the check over a whole test run.
    """
    found = registry().resolver().lookup(f"{ASYNCAPI_URI}#{pointer}")
    return _inline(found.contents, found.resolver)


@cache
def validator(pointer: str, *path: str) -> jsonschema.Draft7Validator:
    """A validator for the schema at a JSON pointer into asyncapi.yaml, then down `path`
    through the resolved document (a pointer alone cannot pass through a $ref)."""
    schema = resolved(pointer)
    for step in path:
        schema = schema[step]
    return jsonschema.Draft7Validator(schema, format_checker=FORMATS)


def message_id(ce_type: str) -> str:
    """`catalog.ProductCreated.v2` -> `ProductCreated.v2`, the message's id in the channel."""
    return ce_type.removeprefix("catalog.")


def message_ids() -> set[str]:
    return set(asyncapi()["channels"][CHANNEL]["messages"])


def check_record(key: bytes | str | None, value: bytes, headers: dict[str, str]) -> None:
    """Raise AssertionError (or jsonschema's ValidationError) unless the record follows the
    contract: a documented ce_type, headers and value valid for its message, key = subject."""
    ce_type = headers.get("ce_type", "")
    assert message_id(ce_type) in message_ids(), f"ce_type {ce_type!r} is not in asyncapi.yaml"
    message = f"/channels/{CHANNEL}/messages/{message_id(ce_type)}"
    validator(message, "headers").validate(headers)
    payload = orjson.loads(value)
    validator(message, "payload", "schema").validate(payload)
    key_text = key.decode() if isinstance(key, bytes) else key
    validator("/components/messageTraits/productEvent/bindings/kafka/key").validate(key_text)
    assert key_text == headers["ce_subject"] == payload["id"]


def documented_headers() -> set[str]:
    """The header names asyncapi.yaml documents for product events."""
    return set(asyncapi()["components"]["schemas"]["CloudEventHeaders"]["properties"])


def schema_file(type_: str, version: int) -> Path:
    return SCHEMA_DIR / "events" / f"{type_}.v{version}.json"


def payload_validator(type_: str, version: int) -> jsonschema.Draft7Validator:
    """A validator for one event version's record value, straight from its schema file."""
    path = schema_file(type_, version)
    return jsonschema.Draft7Validator(
        json.loads(path.read_text()), registry=registry(), format_checker=FORMATS
    )


async def topic_problems(bootstrap: str, topics: list[str]) -> tuple[int, list[str]]:
    """(events checked, problems): every record in `topics` that the code reads as an event
    but that breaks the contract.

    Records the code refuses too (the poison the dead-letter tests write on purpose) are not
    events of ours and are left to those tests.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    problems: list[str] = []
    count = 0
    for topic in topics:
        if topic not in existing:
            continue  # the test never wrote to it
        for record in await read_all(bootstrap, topic):
            raw_headers = [(name, value.encode()) for name, value in record.headers.items()]
            try:
                from_record(record.key.encode(), record.value, raw_headers)
            except BadRecord:
                continue
            count += 1
            try:
                check_record(record.key, record.value, record.headers)
            except (AssertionError, jsonschema.ValidationError) as exc:
                reason = exc.message if isinstance(exc, jsonschema.ValidationError) else exc
                where = f"{topic}[{record.partition}]@{record.offset}"
                problems.append(f"{where} {record.headers.get('ce_type')}: {reason}")
    return count, problems
