"""Wiring of the projector: Kafka consumer → read-model writer, plus health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator

from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from services.projector.consumer import Projector
from services.projector.handover import PauseSwitch
from services.projector.writer import ReadModelWriter
from shared.adapters import mongo, tracing
from shared.adapters.dead_letters import DeadLetterProducer
from shared.adapters.event_source import KafkaEventSource
from shared.adapters.http import service_app
from shared.adapters.kafka_log import ensure_topics
from shared.settings import ProjectorSettings

log = logging.getLogger(__name__)


def create_app(
    settings: ProjectorSettings | None = None, traced: tracing.Tracing = tracing.OFF
) -> FastAPI:
    settings = settings or ProjectorSettings()
    # One name per projector instance (static group membership already makes it one process),
    # under one prefix per consumer group, so that members can find each other's transactions.
    group = f"catalog-projector/{settings.projector_group_id}/"
    app_name = f"{group}{settings.projector_instance_id}"
    client = mongo.connect(settings, app_name)
    db = mongo.database(client, settings)

    async def abort_peer_transactions() -> None:
        """A member that died mid-batch stalls the whole group until its transaction is
        aborted (see mongo.abort_peer_transactions); its partitions come to us only then."""
        try:
            async with asyncio.timeout(5):
                aborted = await mongo.abort_peer_transactions(client, group, app_name)
        except (PyMongoError, TimeoutError) as exc:
            log.warning("could not look for transactions a dead peer left open: %s", exc)
            return
        if aborted:
            log.warning("aborted %d open transaction(s) of other members on assignment", aborted)

    projector = Projector(
        KafkaEventSource(settings, on_assigned=abort_peer_transactions),
        DeadLetterProducer(settings),
        ReadModelWriter(db),
        PauseSwitch(db[mongo.PROJECTION_CONTROL]),
        settings.projector_max_batch,
        spans=tracing.ProjectorSpans(
            traced, settings.projector_group_id, settings.mongodb_database
        ),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings)
        # First, so that an index change (ensure_indexes) never waits behind the transaction a
        # killed predecessor left open on the collection.
        await _abort_orphaned_transactions(client, app_name)
        await mongo.ensure_indexes(db)
        await projector.start()
        task = asyncio.create_task(projector.run(), name="projector")
        task.add_done_callback(_stop_on_failure)
        status = asyncio.create_task(projector.publish_status(db[mongo.PROJECTION_STATUS]))
        try:
            yield
        finally:
            status.cancel()
            task.cancel()
            await projector.stop()
            await client.close()

    async def ready() -> dict[str, bool]:
        return {
            "consuming": projector.running,
            "mongodb": projector.mongo_ok and await mongo.reachable(client),
            "no_gaps": projector.gaps == 0,
        }

    return service_app("catalog projector", ready, lifespan, traced)


async def _abort_orphaned_transactions(
    client: AsyncMongoClient[mongo.Document], app_name: str
) -> None:
    """A predecessor killed mid-batch left its transaction open; without this, our first batches
    would conflict with it until MongoDB expires it, a minute later."""
    try:
        aborted = await mongo.abort_orphaned_transactions(client, app_name)
    except PyMongoError as exc:  # e.g. no inprog/killAnySession privilege: they expire anyway
        log.warning("could not look for transactions a predecessor left open: %s", exc)
        return
    if aborted:
        log.warning("aborted %d transaction(s) a killed predecessor left open", aborted)


def _stop_on_failure(task: asyncio.Task[None]) -> None:
    """A projector that stopped consuming must not look alive: log why and shut the process down."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("projector loop died", exc_info=task.exception())
        os.kill(os.getpid(), signal.SIGTERM)
