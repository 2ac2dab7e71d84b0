"""Re-driving dead letters (`make redrive`) on real Kafka and MongoDB, the projector running.

The story: records of a schema version the projector did not know (`ProductUpdated.v0`, as an
importer wrote them with an earlier draft of the schema: `title` for `name`) were dead-lettered.
The fix — a model for v0 and an upcaster v0 → v1, added here as a deployment would add them —
lets the re-drive apply them. A duplicate of one is skipped as a redelivery, a record that is
not JSON fails again for the same reason and is not written again, and one that now reads but
comes after a hole fails for a new reason and is written back once with it. A second re-drive
changes nothing, and the event log never grows.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import orjson
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.projector import redrive
from shared.domain import upcasting
from shared.domain.events import Event
from shared.envelope import to_record
from shared.settings import ProjectorSettings
from tests.query.events import created, new_id, updated
from tests.support.infra import ROOT
from tests.support.kafka import Record, read_all
from tests.support.producing import produce
from tests.support.read_models import wait_for_versions
from tests.support.services import Service


class ProductUpdatedV0(Event):
    """The importer's draft of an update: a new name was a `title`."""

    TYPE = "ProductUpdated"
    VERSION = 0

    title: str | None = None


def _v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    renamed = {k: v for k, v in data.items() if k != "title"}
    if "title" in data:
        renamed["name"] = data["title"]
    return renamed


def v0_update(product_id: str, sequence: int, title: str) -> tuple[bytes, bytes, Any]:
    """A record as the importer wrote it: a v1-era update's headers, a v0 type and body."""
    key, _, headers = to_record(updated(product_id, sequence, name="ignored"))
    headers = [(n, b"catalog.ProductUpdated.v0" if n == "ce_type" else v) for n, v in headers]
    return key, orjson.dumps({"id": product_id, "title": title}), headers


def learn_v0(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fix, as a deployment would bring it: v0's model and its upcaster."""
    monkeypatch.setitem(upcasting.EVENT_VERSIONS, ("ProductUpdated", 0), ProductUpdatedV0)
    monkeypatch.setitem(upcasting.UPCASTERS, ("ProductUpdated", 0), _v0_to_v1)


async def read_models(db: AsyncDatabase[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [d async for d in db[name].find().sort("_id")]
        for name in ("products", "product_history", "category_stats")
    }


async def dead_letters(env: dict[str, str]) -> list[Record]:
    return await read_all(env["KAFKA_BOOTSTRAP_SERVERS"], env["EVENTS_TOPIC"] + ".dlq")


async def until_dead_letters(env: dict[str, str], count: int) -> list[Record]:
    for _ in range(300):
        found = await dead_letters(env)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"expected {count} dead letters, found {len(found)}")


async def test_dead_letters_of_an_unknown_version_apply_once_the_projector_learnt_it(
    isolated_env: dict[str, str],
    db: AsyncDatabase[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mug, plate, cup = new_id(), new_id(), new_id()
    renamed = v0_update(mug, 2, "Big mug")
    not_json = (plate.encode(), b"{not json", to_record(updated(plate, 2, name="P"))[2])
    after_a_hole = v0_update(cup, 3, "Tea cup")  # cup's version 2 was never written
    await produce(isolated_env, [created(mug), created(plate), created(cup)])
    await produce(isolated_env, [], raw=[renamed, renamed, not_json, after_a_hole])
    settings = ProjectorSettings(**{k.lower(): v for k, v in isolated_env.items()})
    projector = Service("projector", isolated_env).start()
    try:
        await wait_for_versions(db, {mug: 1, plate: 1, cup: 1})
        dead = await until_dead_letters(isolated_env, 4)
        assert sorted(r.headers["dlq_reason"].split(":")[0] for r in dead) == [
            "unsupported version of ProductUpdated",
            "unsupported version of ProductUpdated",
            "unsupported version of ProductUpdated",
            "value is not JSON",
        ]
        log_before = await read_all(isolated_env["KAFKA_BOOTSTRAP_SERVERS"], settings.events_topic)

        unfixed = await redrive.redrive(settings)  # before the fix: all four fail as before
        assert (unfixed.considered, unfixed.failed, unfixed.rewritten) == (4, 4, 0)

        learn_v0(monkeypatch)
        before = await read_models(db)
        dry = await redrive.redrive(settings, dry_run=True)
        assert (dry.applied, dry.skipped, dry.failed, dry.rewritten) == (1, 1, 2, 1)
        assert await read_models(db) == before and len(await dead_letters(isolated_env)) == 4

        first = await redrive.redrive(settings)
        assert (first.considered, first.applied, first.skipped) == (4, 1, 1)
        assert (first.failed, first.rewritten) == (2, 1)
        await wait_for_versions(db, {mug: 2, plate: 1, cup: 1})
        doc = await db.products.find_one({"_id": mug})
        assert doc is not None and doc["name"] == "Big mug"
        history = [h async for h in db.product_history.find({"productId": mug}).sort("version")]
        assert [(h["version"], h["type"], h["data"]) for h in history][1] == (
            2,
            "ProductUpdated",
            {"id": mug, "name": "Big mug"},
        )
        dead = await dead_letters(isolated_env)
        assert len(dead) == 5  # the record after the hole, written back with its new reason
        rewritten = dead_by_reason(dead, "version gap")
        assert rewritten.headers["dlq_reason"] == (
            f"version gap: product {cup} is at version 1, the event has sequence 3"
        )
        original = next(
            r for r in dead if r.headers["dlq_reason"].startswith("unsupported") and r.key == cup
        )
        assert {k: v for k, v in rewritten.headers.items() if k != "dlq_reason"} == {
            k: v for k, v in original.headers.items() if k != "dlq_reason"
        }
        after_first = await read_models(db)

        second = await redrive.redrive(settings)
        assert (second.considered, second.applied, second.skipped) == (4, 0, 2)
        assert (second.failed, second.rewritten) == (2, 0)
        assert await read_models(db) == after_first
        assert len(await dead_letters(isolated_env)) == 5
        log_after = await read_all(isolated_env["KAFKA_BOOTSTRAP_SERVERS"], settings.events_topic)
        # nothing is ever re-appended to the event log
        assert positions(log_after) == positions(log_before)
        assert projector.ready()[0] == 200
    finally:
        projector.stop()


def positions(records: list[Record]) -> list[tuple[int, int, bytes]]:
    return sorted((r.partition, r.offset, r.value) for r in records)


def dead_by_reason(dead: list[Record], prefix: str) -> Record:
    [found] = [r for r in dead if r.headers["dlq_reason"].startswith(prefix)]
    return found


async def test_make_redrive_filters_by_reason_and_time_and_a_dry_run_writes_nothing(
    isolated_env: dict[str, str], db: AsyncDatabase[dict[str, Any]]
) -> None:
    mug = new_id()
    await produce(isolated_env, [created(mug)])
    await produce(isolated_env, [], raw=[v0_update(mug, 2, "Big mug"), (mug.encode(), b"[]", [])])
    projector = Service("projector", isolated_env).start()
    try:
        await until_dead_letters(isolated_env, 2)
    finally:
        projector.stop()

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "services.projector.redrive", *args],
            cwd=ROOT,
            env=projector.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    assert await asyncio.to_thread(cli, "--dry-run", "--reason", "missing headers") == (
        "1 of 2 dead letters re-driven (dry run: nothing written): 0 would be applied, "
        "0 would be skipped as redeliveries, 1 would fail again (0 would be written back "
        "with a new reason)"
    )
    assert await asyncio.to_thread(cli, "--since", "2999-01-01") == (
        "0 of 2 dead letters re-driven: 0 applied, 0 skipped as redeliveries, 0 failed again "
        "(0 written back with a new reason)"
    )
    assert await asyncio.to_thread(cli) == (
        "2 of 2 dead letters re-driven: 0 applied, 0 skipped as redeliveries, 2 failed again "
        "(0 written back with a new reason)"
    )
    assert len(await dead_letters(isolated_env)) == 2
    doc = await db.products.find_one({"_id": mug})
    assert doc is not None and doc["version"] == 1
