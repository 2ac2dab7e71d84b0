"""Wiring of the command service: settings → partition logs and group membership → router →
GraphQL (and the internal forwarding endpoint) over HTTP."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from ariadne.explorer import ExplorerGraphiQL
from fastapi import FastAPI

from services.command import limits
from services.command.adapters.http_forwarder import HttpForwarder
from services.command.adapters.kafka_group import GroupMembership
from services.command.adapters.kafka_partition import KafkaPartitionLog
from services.command.graphql import build_schema
from services.command.internal_api import internal_routes
from services.command.ownership import Ownership, StallWatch
from services.command.partition_writer import PartitionWriter
from services.command.routing import CommandRouter
from shared.adapters import auth, private_api, tracing
from shared.adapters.graphql_http import mount_graphql
from shared.adapters.http import service_app
from shared.adapters.kafka_log import ensure_topics
from shared.settings import CommandSettings

GC_THRESHOLDS = (20_000, 20, 20)  # (young, middle, old): see the lifespan


def create_app(
    settings: CommandSettings | None = None, traced: tracing.Tracing = tracing.OFF
) -> FastAPI:
    settings = settings or CommandSettings()
    sends = tracing.SendSpans(traced, settings.events_topic)
    verifier = auth.required_verifier(settings, "the command service")
    private_api.tune_aiokafka()
    membership: GroupMembership | None = None

    def new_writer(partition: int) -> PartitionWriter:
        return PartitionWriter(
            KafkaPartitionLog(settings, partition),
            settings.command_max_batch,
            settings.command_answers_per_product,
            on_fenced=lambda _: membership.rejoin() if membership else None,
            spans=sends,
        )

    watch = StallWatch(limit_s=settings.command_session_timeout_ms / 1000)
    ownership = Ownership(new_writer, settings.advertised_url, watch)
    membership = GroupMembership(settings, ownership)
    forwarder = HttpForwarder(traced)
    router = CommandRouter(
        ownership, forwarder, settings.events_partitions, settings.command_timeout_s
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        partitions = await ensure_topics(settings)
        router.partitions = partitions[settings.events_topic]
        # What is alive now lives as long as the process; frozen, the cyclic GC's full
        # collections skip it (they were long pauses under load: bench/RESULTS.md).
        gc.freeze()
        # A mutation allocates thousands of short-lived containers, so at the default
        # thresholds (700, 10, 10) the young generation is collected several times per
        # request. The write state is bytes per product, which the collector does not track,
        # so collecting less often costs no long pauses: -12 % CPU per mutation, p99 no worse
        # (bench/RESULTS.md). The query service, whose product cache is tracked objects,
        # measured worse with it.
        gc.set_threshold(*GC_THRESHOLDS)
        watch.start()
        await membership.start()
        try:
            yield
        finally:
            await ownership.close()
            await membership.stop()
            watch.stop()
            await forwarder.close()

    async def ready() -> dict[str, bool]:
        return {
            "kafka": await membership.reachable(),
            "owner": ownership.ready(),
        }

    app = service_app("catalog command service", ready, lifespan, traced)
    app.router.routes.extend(internal_routes(router, verifier))

    @app.get("/ownership")
    async def ownership_view() -> dict[str, object]:
        """Which partitions this instance owns (and in which phase), and who owns the rest."""
        return {
            "instance": settings.advertised_url,
            "owned": {str(p): w.phase.value for p, w in sorted(ownership.writers.items())},
            "owners": {str(p): url for p, url in sorted(ownership.owners.items())},
        }

    explorer = ExplorerGraphiQL(title="Catalog command service")
    mount_graphql(
        app,
        build_schema(router),
        settings,
        verifier=verifier,
        explorer=explorer,
        validation_rules=[limits.MUTATION_LIMIT],
    )
    return app
