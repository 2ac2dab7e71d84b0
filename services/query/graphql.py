"""GraphQL entrypoint of the query service: arguments → read models → the schema's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from ariadne import ObjectType, QueryType, SubscriptionType, make_executable_schema
from ariadne.types import Subscriber
from graphql import GraphQLSchema

from services.query import documents, listing, subscriptions
from services.query.change_feed import ChangeFeed
from services.query.consistency import wait_for_version
from services.query.product_cache import ProductCache
from services.query.read_models import ReadModels
from services.query.scalars import datetime_scalar
from shared.adapters.graphql_http import Info, SharedEvent, load_sdl
from shared.adapters.mongo import Document
from shared.adapters.tracing import PushSpans
from shared.domain.errors import InvalidInput
from shared.read_model.documents import CategoryStatsDocument, HistoryDocument, ProductDocument


def build_schema(
    reads: ReadModels,
    feed: ChangeFeed,
    cache: ProductCache,
    min_version_timeout_s: float,
    pushes: PushSpans | None = None,
) -> GraphQLSchema:
    query = QueryType()
    connection = ObjectType("ProductConnection")
    subscription = SubscriptionType()

    @query.field("product")
    async def product(
        _: Any, _info: Info, id: str, minVersion: int | None = None
    ) -> Document | None:
        if minVersion is None:
            found = await cache.get(id)
        elif minVersion < 1:
            raise InvalidInput("minVersion", "must be at least 1")
        else:
            found = await wait_for_version(
                feed, lambda: cache.get(id), id, minVersion, min_version_timeout_s
            )
        return None if found is None else found.product()

    @query.field("products")
    async def products(
        _: Any,
        _info: Info,
        filter: Document | None = None,
        sort: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Document:
        page = listing.page(filter, sort, first, after)
        rows, more = await reads.page(page)
        edges = [
            {"cursor": page.cursor(row), "node": documents.product(cast(ProductDocument, row))}
            for row in rows
        ]
        return {
            "edges": edges,
            "pageInfo": {
                "hasNextPage": more,
                "hasPreviousPage": page.after is not None,
                "startCursor": edges[0]["cursor"] if edges else None,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "page": page,
        }

    @connection.field("totalCount")
    async def total_count(parent: Document, _info: Info) -> int:
        """Counted only when asked for: it reads every matching index entry, not just a page."""
        return await reads.count(parent["page"])

    @query.field("productHistory")
    async def product_history(_: Any, _info: Info, id: str) -> list[Document]:
        return [documents.event(cast(HistoryDocument, doc)) for doc in await reads.history(id)]

    @query.field("productAt")
    async def product_at(_: Any, _info: Info, id: str, at: datetime) -> Document | None:
        return documents.live(await reads.product_at(id, at))

    @query.field("categories")
    async def categories(*_: Any) -> list[Document]:
        return [
            documents.category_stats(cast(CategoryStatsDocument, doc))
            for doc in await reads.categories()
        ]

    @query.field("projectionStatus")
    async def projection_status(*_: Any) -> Document:
        return documents.projection_status(await reads.projection_status())

    def product_changed_source(
        _: Any, _info: Info, id: str | None = None
    ) -> subscriptions.ProductChangeStream:
        return subscriptions.ProductChangeStream(feed, id, pushes)

    # ariadne's Subscriber type names generators only; graphql-core takes any async iterator.
    subscription.set_source("productChanged", cast("Subscriber", product_changed_source))

    @subscription.field("productChanged")
    def product_changed(event: SharedEvent, *_: Any, **__: Any) -> Document:
        change: Document = event.value
        return change

    return make_executable_schema(
        load_sdl("query.graphql"), query, connection, subscription, datetime_scalar
    )
