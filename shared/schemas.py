"""The published JSON Schemas of the events: one file per type and version, from the models.

`python -m shared.schemas` writes schema/events/<Type>.v<N>.json for every version the log may
hold, and schema/changelog/ProductWriteState.v1.json for the write side's internal changelog;
`python -m shared.schemas --check` only compares (tests/contract/test_schemas.py does the same),
so the published contract cannot drift from the code that writes and reads the log.

The files are JSON Schema draft-07, the dialect AsyncAPI 3 accepts for payloads
(`application/schema+json;version=draft-07`, see schema/asyncapi.yaml): pydantic writes 2020-12
style `$defs`, which are moved to draft-07's `definitions` here. They describe the serialized
form (`mode="serialization"`): money amounts are strings, exactly the bytes on the topic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared import changelog
from shared.domain.events import Event
from shared.domain.upcasting import EVENT_VERSIONS
from shared.envelope import ce_type

EVENTS_DIR = Path(__file__).resolve().parents[1] / "schema" / "events"
CHANGELOG_DIR = EVENTS_DIR.parent / "changelog"
DIALECT = "http://json-schema.org/draft-07/schema#"
GENERATED_BY = "Generated from the models in shared/ by `python -m shared.schemas`; do not edit."


def file_name(model: type[Event]) -> str:
    return f"{model.TYPE}.v{model.VERSION}.json"


def event_schema(model: type[Event]) -> dict[str, Any]:
    """The draft-07 JSON Schema of one event version's record value."""
    title = f"{model.TYPE} v{model.VERSION}"
    return _draft07(model, title, {"x-ce-type": ce_type(model)})


def changelog_schema() -> dict[str, Any]:
    """The draft-07 JSON Schema of a changelog record's value (shared/changelog.py)."""
    return _draft07(changelog.WriteStateValue, changelog.SCHEMA, {})


def _draft07(model: type[BaseModel], title: str, extra: dict[str, Any]) -> dict[str, Any]:
    generated = model.model_json_schema(
        by_alias=True, mode="serialization", ref_template="#/definitions/{model}"
    )
    schema: dict[str, Any] = {"$schema": DIALECT, "$comment": GENERATED_BY, "title": title, **extra}
    for key, value in generated.items():
        if key == "$defs":
            schema["definitions"] = value
        elif key != "title":
            schema[key] = value
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def expected_files(directory: Path = EVENTS_DIR) -> dict[str, str]:
    """File name -> content of every schema file of `directory`, in (type, version) order."""
    if directory == CHANGELOG_DIR:
        return {"ProductWriteState.v1.json": render(changelog_schema())}
    return {
        file_name(model): render(event_schema(model)) for _, model in sorted(EVENT_VERSIONS.items())
    }


def differences(directory: Path | None = None) -> list[str]:
    """What differs between the committed files and the generated ones (empty if none)."""
    if directory is None:
        return differences(EVENTS_DIR) + differences(CHANGELOG_DIR)
    expected = expected_files(directory)
    present = {path.name for path in directory.glob("*.json")}
    problems = [f"missing: {name}" for name in sorted(expected.keys() - present)]
    problems += [f"not generated (stale?): {name}" for name in sorted(present - expected.keys())]
    problems += [
        f"differs: {name}"
        for name in sorted(expected.keys() & present)
        if (directory / name).read_text(encoding="utf-8") != expected[name]
    ]
    return problems


def write() -> None:
    for directory in (EVENTS_DIR, CHANGELOG_DIR):
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in expected_files(directory).items():
            (directory / name).write_text(content, encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        problems = differences()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if argv[1:]:
        print("usage: python -m shared.schemas [--check]", file=sys.stderr)
        return 2
    write()
    print(f"wrote {len(expected_files()) + 1} schemas to {EVENTS_DIR.parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
