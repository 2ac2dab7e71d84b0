"""The query service in-process against real MongoDB, one fresh database per test module.

`mongodb_url` comes from the root conftest. The app's lifespan (index creation, the change feed)
is entered explicitly, since httpx's ASGITransport does not run it.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.projector.writer import ReadModelWriter
from services.query.app import create_app
from shared.settings import QuerySettings

Document = dict[str, Any]

# Short enough for the timeout test, long enough for a write 200 ms later on a busy machine.
MIN_VERSION_TIMEOUT_S = 1.5


@pytest.fixture(scope="module")
def query_settings(mongodb_url: str) -> QuerySettings:
    return QuerySettings(
        mongodb_url=mongodb_url,
        mongodb_database=f"test_query_{uuid.uuid4().hex[:10]}",
        min_version_timeout_s=MIN_VERSION_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
async def db(query_settings: QuerySettings) -> AsyncIterator[AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(query_settings.mongodb_url, tz_aware=True)
    database = client[query_settings.mongodb_database]
    yield database
    await client.drop_database(database.name)
    await client.close()


@pytest.fixture(scope="module")
def writer(db: AsyncDatabase[Document]) -> ReadModelWriter:
    return ReadModelWriter(db)


@pytest.fixture(scope="module")
async def app(query_settings: QuerySettings, db: AsyncDatabase[Document]) -> AsyncIterator[FastAPI]:
    app = create_app(query_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://query.test") as client:
        yield client


@pytest.fixture(scope="module")
async def server(app: FastAPI) -> AsyncIterator[str]:
    """The same app behind a real uvicorn on a free loopback port (for WebSocket tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", ws="websockets-sansio", log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    await task
