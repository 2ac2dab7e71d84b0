"""Projection throughput: replay a log into fresh read models, against raw bulk upserts.

Three steps, each its own process (`python -m bench.projection STEP ...`, JSON on stdout) so
that one's garbage does not slow the next:

- `produce`: generate the events (bench/events.py) and append them to a dedicated topic with a
  plain aiokafka producer, acks=all and idempotent. Timed, this is also the **log ceiling**:
  what Kafka and aiokafka take per second in records of exactly our size.
- `replay`: the projector's own rebuild path — `EventReader` from offset 0 through
  `services.projector.bulk_load.load_partitions` (what `make rebuild` does before it pauses the
  live projector: fold in memory, in `REBUILD_WORKERS` processes, insert each document once,
  build the real indexes afterwards), with the batch size of `make rebuild`, into fresh
  collections (`--workers N` overrides the worker count). Timed from reader start until the
  indexes are built. Its `mongo_commands` are this process's only: with more than one worker,
  the workers' inserts are not among them. Then, as a rebuild hands over, the bench projector's consumer group is
  set to continue after the replayed records: the catalog is ready for the later phases.
- `raw`: the same final documents (products, history, category statistics, as the replay left
  them) written again into fresh collections with the same indexes by raw pymongo `bulk_write`
  of `ReplaceOne(upsert=True)` in batches of the same size: no Kafka, no parsing, no version
  guard, no transaction, nothing read back. Its events/s is the event count over its time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient, MongoClient, ReplaceOne

from bench import kafka_admin
from bench.events import generate
from bench.mongo_timing import CommandTimes
from services.projector import bulk_load
from shared.adapters import mongo, private_api
from shared.adapters.kafka_log import EventReader
from shared.envelope import to_record
from shared.settings import ProjectorSettings

COLLECTIONS = (mongo.PRODUCTS, mongo.HISTORY, mongo.CATEGORY_STATS)


def _settings(args: argparse.Namespace, database: str) -> ProjectorSettings:
    return ProjectorSettings(
        kafka_bootstrap_servers=args.kafka,
        mongodb_url=args.mongodb_url,
        mongodb_database=database,
        events_topic=args.topic,
    )


async def produce(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    envelopes = list(generate(args.events // 2))
    records = [to_record(e) for e in envelopes]
    generated_s = time.perf_counter() - started
    ids = "\n".join(dict.fromkeys(e.product_id for e in envelopes)) + "\n"
    Path(args.ids).write_text(ids)  # noqa: ASYNC240 - once, before anything is timed
    size = sum(len(k) + len(v) + sum(len(n) + len(h) for n, h in hs) for k, v, hs in records)
    await kafka_admin.create_topic(args.kafka, args.topic, partitions=6)
    producer = AIOKafkaProducer(
        bootstrap_servers=args.kafka,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(args.topic, value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return {
        "records": len(records),
        "products": len(envelopes) - len(envelopes) // 2,
        "record_bytes": round(size / len(records)),
        "generate_s": round(generated_s, 2),
        "seconds": round(seconds, 3),
        "rps": round(len(records) / seconds, 1),
    }


async def replay(args: argparse.Namespace) -> dict[str, Any]:
    settings = _settings(args, args.database)
    times = CommandTimes()
    # mongo.connect's client, plus command monitoring to split the time (bench/mongo_timing.py)
    client: AsyncMongoClient[mongo.Document] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000, event_listeners=[times]
    )
    db = mongo.database(client, settings)
    reader = EventReader(settings, client_id="catalog-bench-replay")
    try:
        for name in COLLECTIONS:
            await db.drop_collection(name)
        started = time.perf_counter()
        await reader.start()
        defaults = ProjectorSettings()
        totals = await bulk_load.load_partitions(
            settings,
            reader,
            db,
            "",
            args.batch,
            defaults.rebuild_max_products,
            args.workers or defaults.rebuild_workers,
        )
        seconds = time.perf_counter() - started
        await _hand_over(args)
    finally:
        await reader.stop()
        await client.close()
    return {
        "events": totals.applied,
        "unreadable": totals.unreadable,
        "gaps": totals.gaps,
        "seconds": round(seconds, 3),
        "events_per_s": round(totals.applied / seconds, 1),
        "mongo_s": round(sum(times.seconds.values()), 3),
        "mongo_commands": times.report(),
    }


async def _hand_over(args: argparse.Namespace) -> None:
    """Commit the end of the topic for the live projector's group: it goes on from there."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.kafka, group_id=args.group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        found = await private_api.topic_partitions(consumer, args.topic)  # as EventReader does
        partitions = [TopicPartition(args.topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _indexes(args: argparse.Namespace, database: str, drop: bool = True) -> None:
    client = mongo.connect(_settings(args, database))
    try:
        db = client[database]
        for name in COLLECTIONS if drop else ():
            await db.drop_collection(name)
        await mongo.ensure_indexes(db)
    finally:
        await client.close()


def _bulk(
    client: MongoClient[dict[str, Any]],
    database: str,
    documents: dict[str, list[dict[str, Any]]],
    batch: int,
    transactions: bool,
) -> float:
    """Upsert every document in batches; seconds taken. Optionally one transaction per batch."""
    target = client[database]
    started = time.perf_counter()
    for name, docs in documents.items():
        for i in range(0, len(docs), batch):
            ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs[i : i + batch]]
            if transactions:
                with client.start_session() as session, session.start_transaction():
                    target[name].bulk_write(ops, ordered=False, session=session)
            else:
                target[name].bulk_write(ops, ordered=False)
    return time.perf_counter() - started


def _bulk_load(
    client: MongoClient[dict[str, Any]], args: argparse.Namespace, documents: dict[str, Any]
) -> float:
    """`insert_many` into collections with only `_id`, the real indexes built afterwards."""
    target = client[args.raw_database]
    for name in COLLECTIONS:
        target.drop_collection(name)
    started = time.perf_counter()
    for name, docs in documents.items():
        for i in range(0, len(docs), args.batch):
            target[name].insert_many(docs[i : i + args.batch], ordered=False)
    asyncio.run(_indexes(args, args.raw_database, drop=False))
    return time.perf_counter() - started


def raw(args: argparse.Namespace) -> dict[str, Any]:
    """The issue's baseline (plain bulk upserts), then the same in one transaction per batch,
    then the thinnest bulk load of the same documents (what our replay does without the log).

    MongoDB takes a batch faster inside a transaction (one oplog entry and journal write for
    the batch instead of one per document), so the plain variant is the thinnest writer but
    not the fastest; all three are reported, the issue's ratio uses the plain one.
    """
    times = CommandTimes()
    client: MongoClient[dict[str, Any]] = MongoClient(
        args.mongodb_url, tz_aware=True, event_listeners=[times]
    )
    try:
        source = client[args.database]
        documents = {name: list(source[name].find()) for name in COLLECTIONS}
        asyncio.run(_indexes(args, args.raw_database))
        times.seconds.clear()
        times.count.clear()
        seconds = _bulk(client, args.raw_database, documents, args.batch, transactions=False)
        report = times.report()
        mongo_s = sum(times.seconds.values())
        asyncio.run(_indexes(args, args.raw_database))
        txn_seconds = _bulk(client, args.raw_database, documents, args.batch, transactions=True)
        insert_seconds = _bulk_load(client, args, documents)
    finally:
        client.close()
    return {
        "documents": {name: len(docs) for name, docs in documents.items()},
        "seconds": round(seconds, 3),
        "events_per_s": round(args.events / seconds, 1),
        "mongo_s": round(mongo_s, 3),
        "mongo_commands": report,
        "txn_seconds": round(txn_seconds, 3),
        "insert_seconds": round(insert_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.projection")
    parser.add_argument("step", choices=["produce", "replay", "raw"])
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--mongodb-url", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--raw-database", default="")
    parser.add_argument("--events", type=int, default=0)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--ids", default="")
    parser.add_argument("--group", default="")
    parser.add_argument("--workers", type=int, default=0)  # replay: 0 = REBUILD_WORKERS
    args = parser.parse_args()
    if args.step == "produce":
        result = asyncio.run(produce(args))
    elif args.step == "replay":
        result = _run_uvloop(replay(args))
    else:
        result = raw(args)
    print(json.dumps(result))


def _run_uvloop(coroutine: Any) -> Any:
    """On uvloop, as the projector runs under uvicorn."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


if __name__ == "__main__":
    main()
