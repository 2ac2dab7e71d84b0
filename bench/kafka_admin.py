"""Creating and deleting the bench's own topics (only ever names under config.TOPIC_PREFIX)."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bench.config import TOPIC_PREFIX


async def reachable(bootstrap: str) -> None:
    """Raise unless the broker answers."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    await admin.close()


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(name, partitions, 1)])
        # A new topic's partitions get their leader a moment later; clients that come sooner
        # log errors and retry, so wait here instead.
        for _ in range(100):
            described = await admin.describe_topics([name])
            found = described[0]["partitions"] if described else []
            if len(found) == partitions and all(p["leader"] >= 0 for p in found):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def delete_bench_topics(bootstrap: str) -> list[str]:
    """Delete every topic the bench made, this run's and any left by an interrupted one."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(TOPIC_PREFIX)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()
