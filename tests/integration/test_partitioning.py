"""A product's partition is exactly the one Kafka's own Java client picks for its id as key.

The command instances route commands by partition and append to the partition they own, so
`routing.partition_for` must agree with the default partitioner every other Kafka client uses
(murmur2): otherwise an outside producer of the same keys, or a consumer reasoning about where
a product lives, would disagree with the write side. Checked against the real thing: Apache
Kafka's console producer (Java, default partitioner) sends keyed records to the broker without
naming partitions, and every record must be in the partition `partition_for` names.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.command.routing import partition_for
from tests.support.infra import NATIVE, TEST_ENV
from tests.support.kafka import read_all


def kafka_classpath() -> str:
    """The Kafka jars infra/native fetches from Maven Central (fetched now if missing)."""
    env = {**os.environ, "RUN_DIR": TEST_ENV["RUN_DIR"]}
    subprocess.run([NATIVE / "kafka.sh", "fetch"], env=env, check=True, capture_output=True)
    return f"{TEST_ENV['RUN_DIR']}/tools/kafka-3.9.1/libs/*"


@pytest.mark.parametrize("partitions", [6, 7])
async def test_partition_for_agrees_with_the_java_clients_default_partitioner(
    kafka_bootstrap: str, partitions: int
) -> None:
    topic = f"test-partitioner-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    keys = [str(uuid.uuid4()) for _ in range(300)] + ["", "a", "é", "product-1"]
    lines = "".join(f"{key}|v\n" for key in keys if key)
    await asyncio.to_thread(
        subprocess.run,
        [
            "java",
            "-cp",
            kafka_classpath(),
            "kafka.tools.ConsoleProducer",
            "--bootstrap-server",
            kafka_bootstrap,
            "--topic",
            topic,
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=|",
        ],
        input=lines.encode(),
        check=True,
        capture_output=True,
        timeout=120,
    )
    records = await read_all(kafka_bootstrap, topic)
    assert len(records) == len([k for k in keys if k])
    placed = {record.key: record.partition for record in records}
    assert placed == {key: partition_for(key, partitions) for key in placed}
    assert len(set(placed.values())) == partitions  # the keys spread over every partition
