"""What the cluster's durability settings cost in latency, measured on the running cluster.

    make up STACK=cluster
    .venv/bin/python -m bench.concerns          # prints one JSON document

Each setting is measured against its weaker alternative in the same run, alternating rounds of
the two so that the shared machine's noise falls on both alike, with requests one at a time
(latency, not throughput):

- MongoDB writes: one update with w: 1 against w: "majority" with journaling (what the services
  use), and the projector's shape of work, a transaction of three writes committed with either.
- MongoDB reads: `find_one` by _id with read concern "local" against "majority".
- Kafka appends: one record with acks=1 against acks=all with the idempotent producer (what the
  services use), on a topic with replication factor 3 and min.insync.replicas=2.

Everything goes to a scratch database and topic of its own, deleted at the end. MONGODB_URL and
KAFKA_BOOTSTRAP_SERVERS default to the cluster of `make up STACK=cluster`.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

MONGODB_URL = os.environ.get(
    "MONGODB_URL", "mongodb://127.0.0.1:27017,127.0.0.1:27018,127.0.0.1:27019/?replicaSet=rs0"
)
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094")
ROUNDS = int(os.environ.get("CONCERNS_ROUNDS", "20"))
PER_ROUND = int(os.environ.get("CONCERNS_PER_ROUND", "50"))

Operation = Callable[[int], Awaitable[object]]
Document = dict[str, Any]


async def compare(weak: Operation, strong: Operation) -> dict[str, dict[str, float]]:
    """Latency percentiles (ms) of `weak` and `strong`, in alternating rounds (after a few
    unmeasured ones each, for connections and caches)."""
    seconds: dict[str, list[float]] = {"weak": [], "strong": []}
    for i in range(10):
        await weak(i)
        await strong(i)
    i = 0
    for _ in range(ROUNDS):
        for name, operation in (("weak", weak), ("strong", strong)):
            for _ in range(PER_ROUND):
                started = time.perf_counter()
                await operation(i)
                seconds[name].append(time.perf_counter() - started)
                i += 1
    return {name: summary(values) for name, values in seconds.items()}


def summary(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 3),
        "p90_ms": round(cuts[89] * 1000, 3),
        "p99_ms": round(cuts[98] * 1000, 3),
        "mean_ms": round(statistics.fmean(values) * 1000, 3),
    }


async def mongo(database: str) -> dict[str, Any]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(MONGODB_URL)
    try:
        db = client[database]
        await db.products.insert_many([{"_id": i, "version": 0} for i in range(1000)])
        stats: Document = {"_id": "stats", "n": 0}
        await db.stats.insert_one(stats)
        w1, majority = WriteConcern(w=1), WriteConcern(w="majority", j=True)
        local, majority_read = ReadConcern("local"), ReadConcern("majority")

        def update(concern: WriteConcern) -> Operation:
            collection = db.products.with_options(write_concern=concern)
            return lambda i: collection.update_one({"_id": i % 1000}, {"$inc": {"version": 1}})

        def transaction(concern: WriteConcern) -> Operation:
            async def batch(i: int) -> None:
                async def writes(session: AsyncClientSession) -> None:
                    await db.products.update_one(
                        {"_id": i % 1000}, {"$inc": {"version": 1}}, session=session
                    )
                    await db.history.insert_one({"event": i}, session=session)

                async with client.start_session() as session:
                    await session.with_transaction(writes, write_concern=concern)

            return batch

        def read(concern: ReadConcern) -> Operation:
            collection = db.products.with_options(read_concern=concern)
            return lambda i: collection.find_one({"_id": i % 1000})

        hello = await client.admin.command("hello")
        return {
            "members": len(hello.get("hosts", [])),
            "update w:1 vs w:majority+j": await compare(update(w1), update(majority)),
            "transaction of 3 writes, commit w:1 vs w:majority+j": await compare(
                transaction(w1), transaction(majority)
            ),
            "find_one read concern local vs majority": await compare(
                read(local), read(majority_read)
            ),
        }
    finally:
        await client.drop_database(database)
        await client.close()


async def kafka(topic: str) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    brokers = len((await admin.describe_cluster())["brokers"])
    configs = {"min.insync.replicas": str(min(2, brokers))}
    await admin.create_topics([NewTopic(topic, 1, brokers, topic_configs=configs)])
    weak = AIOKafkaProducer(bootstrap_servers=KAFKA, acks=1, linger_ms=0)
    strong = AIOKafkaProducer(
        bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=0
    )
    await weak.start()
    await strong.start()
    try:
        value = b"x" * 600  # about one event's size
        for producer in (weak, strong):  # until the new topic has a leader everywhere
            await asyncio.wait_for(producer.send_and_wait(topic, b"warm-up"), 60)

        def send(producer: AIOKafkaProducer) -> Operation:
            return lambda i: producer.send_and_wait(topic, value, key=str(i % 50).encode())

        return {
            "brokers": brokers,
            "replication_factor": brokers,
            "append acks=1 vs acks=all+idempotent": await compare(send(weak), send(strong)),
        }
    finally:
        await weak.stop()
        await strong.stop()
        await admin.delete_topics([topic])
        await admin.close()


async def main() -> None:
    run = uuid.uuid4().hex[:8]
    result = {
        "what": "latency of one request at a time, weaker setting vs the one the services use",
        "rounds": ROUNDS,
        "per_round": PER_ROUND,
        "machine": f"{platform.node()}, {os.cpu_count()} cores",
        "mongodb": await mongo(f"bench_concerns_{run}"),
        "kafka": await kafka(f"bench-concerns-{run}"),
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    asyncio.run(main())
