"""Wiring of the query service: settings → MongoDB → read models + change feed → GraphQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from ariadne.explorer import ExplorerGraphiQL
from fastapi import FastAPI
from pymongo.errors import PyMongoError

from services.query import limits
from services.query.change_feed import ChangeFeed
from services.query.graphql import build_schema
from services.query.product_cache import ProductCache
from services.query.read_models import SCANS_AT_ONCE, ReadModels
from shared.adapters import auth, mongo, tracing
from shared.adapters.graphql_http import mount_graphql
from shared.adapters.http import service_app
from shared.settings import QuerySettings

log = logging.getLogger(__name__)

EXAMPLE = """# The product catalog's read side. Subscriptions (productChanged) work here too.
{
  products(first: 5, sort: UPDATED_AT_DESC) {
    edges { node { id name price { amount currency } version updatedAt } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
  projectionStatus { lastEventTime partitions { partition lag } }
}
"""


def create_app(
    settings: QuerySettings | None = None, traced: tracing.Tracing = tracing.OFF
) -> FastAPI:
    settings = settings or QuerySettings()
    verifier = None
    if settings.query_auth_required:
        verifier = auth.required_verifier(settings, "QUERY_AUTH_REQUIRED")
    # pymongo's async client connects lazily, on the loop of its first operation, so creating it
    # here (before uvicorn's loop exists) is fine; the lifespan closes it on that same loop.
    client = mongo.connect(settings)
    db = mongo.database(client, settings)
    feed = ChangeFeed(db)
    # The scans a query service runs at once are shared among its workers.
    reads = ReadModels(
        db,
        settings.query_listing_max_time_ms,
        scans_at_once=max(1, SCANS_AT_ONCE // settings.query_workers),
    )
    cache = ProductCache(
        feed,
        reads.product,
        settings.query_product_cache_size,
        reads.products if settings.query_product_cache_warm else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            # The projector creates them too; doing it here keeps a fresh deployment's first
            # queries off collection scans whichever service starts first.
            await mongo.ensure_indexes(db)
        except PyMongoError:
            log.warning("could not ensure read-model indexes; serving anyway", exc_info=True)
        tasks = [
            asyncio.create_task(feed.run(), name="query-change-feed"),
            asyncio.create_task(cache.run(), name="query-product-cache-warming"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await client.close()

    async def ready() -> dict[str, bool]:
        return {"mongodb": await mongo.reachable(client), "change_feed": feed.opened.is_set()}

    app = service_app("catalog query service", ready, lifespan, traced)
    app.state.change_feed = feed  # for operators' debugging and the tests
    app.state.product_cache = cache
    app.state.read_models = reads
    mount_graphql(
        app,
        build_schema(reads, feed, cache, settings.min_version_timeout_s, tracing.PushSpans(traced)),
        settings,
        verifier=verifier,
        explorer=ExplorerGraphiQL(title="Catalog query service", default_query=EXAMPLE),
        validation_rules=limits.validation_rules,
        websocket=True,
    )
    return app
