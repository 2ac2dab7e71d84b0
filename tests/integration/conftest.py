"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


@pytest.fixture
async def db(isolated_env: dict[str, str]) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The test's own read-model database, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        isolated_env["MONGODB_URL"], tz_aware=True
    )
    yield client[isolated_env["MONGODB_DATABASE"]]
    await client.drop_database(isolated_env["MONGODB_DATABASE"])
    await client.close()
