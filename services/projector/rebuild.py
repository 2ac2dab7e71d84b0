"""Rebuild the read models from offset 0 into fresh collections, then swap them in.

    python -m services.projector.rebuild      (or: make rebuild)

The query service keeps answering from the old collections until the swap; the live projector
keeps them current meanwhile, pauses for the swap (see handover.py) and then continues on the
new ones. Each collection is swapped by an atomic rename, so a query sees either the old or the
new collection, never a missing or half-filled one.
"""

from __future__ import annotations

import asyncio
import logging
import time

from services.projector import bulk_load
from services.projector.bulk_load import Replayed, events
from services.projector.handover import request_pause, resume
from services.projector.writer import ReadModelWriter
from shared.adapters import mongo
from shared.adapters.kafka_log import EventReader
from shared.logging import configure_logging
from shared.settings import ProjectorSettings

log = logging.getLogger(__name__)
SUFFIX = "_rebuild"
SWAPPED = (mongo.PRODUCTS, mongo.HISTORY, mongo.CATEGORY_STATS)


async def rebuild(
    settings: ProjectorSettings, batch_size: int = 2000, pause_timeout_s: float = 60
) -> Replayed:
    """The log so far in bulk (bulk_load.py, `REBUILD_WORKERS` processes folding the
    partitions side by side), then, with the live projector paused, the rest through the
    transactional writer; then the swap."""
    client = mongo.connect(settings)
    db = mongo.database(client, settings)
    reader = EventReader(settings, client_id="catalog-rebuild")
    writer = ReadModelWriter(db, SUFFIX)
    totals = Replayed()
    try:
        for name in SWAPPED:
            await db.drop_collection(name + SUFFIX)  # leftovers of an interrupted rebuild
        await reader.start()
        started = time.monotonic()
        totals = await bulk_load.load_partitions(
            settings,
            reader,
            db,
            SUFFIX,
            batch_size,
            settings.rebuild_max_products,
            settings.rebuild_workers,
        )
        log.info(
            "replayed %d events in %.1fs; pausing the live projector",
            totals.applied,
            time.monotonic() - started,
        )
        control = db[mongo.PROJECTION_CONTROL]
        token, positions = await request_pause(control, pause_timeout_s)
        try:
            # now past where the projector stopped
            await bulk_load.replay(events(reader), writer, batch_size, totals)
            log.info("caught up past the projector's positions %s; swapping", positions)
            for name in SWAPPED:
                await client.admin.command(
                    "renameCollection",
                    f"{db.name}.{name}{SUFFIX}",
                    to=f"{db.name}.{name}",
                    dropTarget=True,
                )
        finally:
            await resume(control, token)
    finally:
        await reader.stop()
        await client.close()
    log.info(
        "rebuild done: %d events applied, %d unreadable, %d gaps",
        totals.applied,
        totals.unreadable,
        totals.gaps,
    )
    return totals


def main() -> None:
    settings = ProjectorSettings()
    configure_logging("rebuild", settings.log_level)
    totals = asyncio.run(rebuild(settings))
    print(
        f"rebuilt: {totals.applied} events applied, {totals.unreadable} unreadable skipped, {totals.gaps} gaps"
    )


if __name__ == "__main__":
    main()
