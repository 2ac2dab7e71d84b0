"""The projection status document, written by every projector of the group in turn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.projector.consumer import status_update
from tests.support.read_models import scratch_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def status(mongodb_url: str) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    async with scratch_database(mongodb_url, "test_status") as db:
        yield db.projection_status


async def publish(
    status: AsyncCollection[dict[str, Any]], lags: dict[int, int], last: datetime | None
) -> dict[str, Any]:
    await status.update_one({"_id": "projector"}, status_update(lags, last, T0), upsert=True)
    found = await status.find_one({"_id": "projector"})
    assert found is not None
    return found


def partitions(found: dict[str, Any]) -> dict[int, int]:
    return {p["partition"]: p["lag"] for p in found["partitions"]}


async def test_two_projectors_each_keep_the_others_partitions_and_the_latest_event_time(
    status: AsyncCollection[dict[str, Any]],
) -> None:
    """Each wrote the whole document with its own partitions only, so the query service showed
    half of them, alternately."""
    await publish(status, {0: 5, 2: 0, 4: 1}, T0 + timedelta(seconds=2))
    found = await publish(status, {1: 3, 3: 0, 5: 7}, T0 + timedelta(seconds=1))
    assert partitions(found) == {0: 5, 1: 3, 2: 0, 3: 0, 4: 1, 5: 7}
    assert [p["partition"] for p in found["partitions"]] == [0, 1, 2, 3, 4, 5]
    assert found["lastEventTime"] == T0 + timedelta(seconds=2)

    # The second one dies; the first takes its partitions and reports them from then on.
    found = await publish(status, {p: 0 for p in range(6)}, T0 + timedelta(seconds=3))
    assert partitions(found) == dict.fromkeys(range(6), 0)
    assert found["lastEventTime"] == T0 + timedelta(seconds=3)


async def test_a_restarted_projector_keeps_the_last_event_time_published_before(
    status: AsyncCollection[dict[str, Any]],
) -> None:
    await publish(status, {0: 0}, T0)
    found = await publish(status, {0: 4}, None)
    assert found["lastEventTime"] == T0
    assert partitions(found) == {0: 4}
