"""End-to-end lag: from a mutation's answer until its change is visible at the query endpoint.

Open loop at a steady rate (the next mutation leaves on schedule whatever the previous ones are
doing, so a slow answer cannot hide lag by slowing the load): each one updates a product's price
through the command service; as soon as the answer (with the new version) arrives, the client
asks the query service for `product(id, minVersion: version)`, which answers once the read
model has that version. Lag = that answer's arrival minus the mutation answer's arrival, so it
includes one query round trip. The products are a random sample of the catalog, each updated
once, so no two in-flight mutations share a product.

Baseline, same rate, same process: the thinnest Kafka → MongoDB pipeline — an aiokafka
producer (acks=all, idempotent) and, beside it, a consumer that upserts each record into
MongoDB; lag = the upsert's acknowledgement minus the produce acknowledgement.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from bench import kafka_admin
from bench.client import call
from bench.config import Config, token
from bench.histogram import Latencies
from bench.stack import CpuWindow

UPDATE = "mutation($in: UpdateProductInput!) { updateProduct(input: $in) { id version } }"
READ = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { id version } }"


async def _open_loop(
    rate: float,
    seconds: float,
    warmup: float,
    one: Callable[[int, bool], Coroutine[Any, Any, None]],
) -> tuple[float, int]:
    """Start `one(i, counted)` every 1/rate seconds; the achieved start rate of counted ones,
    and how many were started in all (warm-up included)."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    start = loop.time()
    i = counted = 0
    while (now := loop.time()) < start + warmup + seconds:
        due = start + i / rate
        if due > now:
            await asyncio.sleep(due - now)
        measured = due >= start + warmup
        counted += measured
        task = asyncio.create_task(one(i, measured))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    await asyncio.gather(*tasks)
    return counted / seconds, i


async def ours(config: Config, catalog: list[str]) -> dict[str, Any]:
    lag, write, errors, timeouts = Latencies(), Latencies(), [], []
    ids = random.sample(catalog, min(len(catalog), int(config.lag_rate * (config.lag_seconds + 3))))
    command, query = config.url("command"), config.url("query")
    bearer = token()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int, measured: bool) -> None:
            product_id = ids[i % len(ids)]
            price = {"amount": f"{1 + i % 997}.{i % 100:02d}", "currency": "EUR"}
            answered = 0.0
            try:
                sent = time.perf_counter()
                data = await call(
                    session,
                    command,
                    UPDATE,
                    {"in": {"id": product_id, "price": price}},
                    bearer,
                )
                answered = time.perf_counter()
                version = data["updateProduct"]["version"]
                seen = await call(session, query, READ, {"id": product_id, "v": version})
                visible = time.perf_counter()
                if seen["product"]["version"] < version:
                    raise RuntimeError(f"query answered version {seen['product']['version']}")
            except Exception as exc:
                if not measured:
                    return
                if answered and "CONSISTENCY_TIMEOUT" in str(exc):
                    # The wait for the projector ran out (MIN_VERSION_TIMEOUT_S): the lag was at
                    # least this long. Recorded as such, so a timeout cannot flatter the tail.
                    write.record(answered - sent)
                    lag.record(time.perf_counter() - answered)
                    timeouts.append(1)
                else:
                    errors.append(repr(exc)[:300])
                return
            if measured:
                write.record(answered - sent)
                lag.record(visible - answered)

        rate, sent = await _open_loop(config.lag_rate, config.lag_seconds, 2.0, one)
    return {
        "achieved_rate": round(rate, 1),
        "sent": sent,
        "lag": lag.summary(),
        "mutation": write.summary(),
        "errors": len(errors),
        "error_sample": errors[:3],
        "consistency_timeouts": len(timeouts),
    }


async def baseline(config: Config) -> dict[str, Any]:
    await kafka_admin.create_topic(config.kafka, config.lag_topic, partitions=6)
    lag = Latencies()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(config.mongodb_url)
    collection = mongo[config.raw_database]["lag"]
    producer = AIOKafkaProducer(
        bootstrap_servers=config.kafka, acks="all", enable_idempotence=True, linger_ms=0
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka, enable_auto_commit=False)
    waiting: dict[bytes, asyncio.Future[float]] = {}
    await producer.start()
    await consumer.start()
    partitions = [TopicPartition(config.lag_topic, p) for p in range(6)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)

    async def consume() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    await collection.update_one(
                        {"_id": record.key}, {"$set": {"value": record.value}}, upsert=True
                    )
                    future = waiting.pop(record.key, None)
                    if future is not None and not future.done():
                        future.set_result(time.perf_counter())

    async def one(i: int, measured: bool) -> None:
        key = f"lag-{i}".encode()
        future = asyncio.get_running_loop().create_future()
        waiting[key] = future
        await producer.send_and_wait(config.lag_topic, b'{"price": "%d.00"}' % i, key=key)
        acknowledged = time.perf_counter()
        visible = await asyncio.wait_for(future, 10)
        if measured:
            lag.record(max(0.0, visible - acknowledged))

    consumer_task = asyncio.create_task(consume())
    try:
        rate, _ = await _open_loop(config.lag_rate, min(config.lag_seconds, 30), 2.0, one)
    finally:
        consumer_task.cancel()
        await producer.stop()
        await consumer.stop()
        await mongo.close()
    return {"achieved_rate": round(rate, 1), "lag": lag.summary()}


METRICS = {
    "projector": (
        "catalog_projector_batch_seconds_count",
        "catalog_projector_batch_seconds_sum",
        "catalog_projector_events_applied_total",
    ),
    "query": (
        "catalog_query_min_version_wait_seconds_count",
        "catalog_query_min_version_wait_seconds_sum",
    ),
}


async def _metrics(config: Config) -> dict[str, float]:
    """The projector's and the query service's own counters, to split the lag between them."""
    values: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        for service, names in METRICS.items():
            async with session.get(config.url(service, "/metrics")) as response:
                text = await response.text()
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                if name in names:
                    values[name] = float(value)
    return values


def _breakdown(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    d = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    batches = d.get("catalog_projector_batch_seconds_count", 0.0) or 1.0
    waits = d.get("catalog_query_min_version_wait_seconds_count", 0.0) or 1.0
    return {
        "projector_batches": d.get("catalog_projector_batch_seconds_count", 0.0),
        "projector_events_per_batch": round(
            d.get("catalog_projector_events_applied_total", 0.0) / batches, 1
        ),
        "projector_batch_ms": round(
            1000 * d.get("catalog_projector_batch_seconds_sum", 0.0) / batches, 1
        ),
        "query_min_version_waits": d.get("catalog_query_min_version_wait_seconds_count", 0.0),
        "query_min_version_wait_ms": round(
            1000 * d.get("catalog_query_min_version_wait_seconds_sum", 0.0) / waits, 1
        ),
    }


def _cpu(window: dict[str, Any], mutations: int) -> dict[str, Any]:
    """Each process's CPU per mutation (ms) and how busy the cores were, over our run."""
    return {
        "ms_per_mutation": {
            name: round(1000 * seconds / max(mutations, 1), 2)
            for name, seconds in window["cpu_s"].items()
        },
        "cores_busy": window["cores_busy"],
        "cores": window["cores"],
    }


async def run(
    config: Config, ids: list[str], pids: Mapping[str, int], log: Any = print
) -> dict[str, Any]:
    """`pids`: the processes whose CPU per mutation is reported (the services, and Kafka and
    MongoDB when they run natively); the load generator (this process) is added."""
    watched = {**pids, "load_generator": os.getpid()}
    base = await baseline(config)
    before = await _metrics(config)
    window = CpuWindow(watched)
    result = await ours(config, ids)
    result["cpu"] = _cpu(window.close(), result["sent"])
    result["breakdown"] = _breakdown(before, await _metrics(config))
    # The same at half the rate: how the lag looks when the cores are not all busy.
    half_config = replace(config, lag_rate=config.lag_rate / 2, lag_seconds=config.lag_seconds / 2)
    window = CpuWindow(watched)
    half = await ours(half_config, ids)
    half["cpu"] = _cpu(window.close(), half["sent"])
    lag, base_lag, cpu = result["lag"], base["lag"], result["cpu"]
    log(
        f"  ours p50 {lag['p50_ms']:.1f} ms p99 {lag['p99_ms']:.1f} ms at "
        f"{result['achieved_rate']}/s ({result['errors']} errors, "
        f"{result['consistency_timeouts']} minVersion timeouts) | baseline p50 "
        f"{base_lag['p50_ms']:.1f} ms p99 {base_lag['p99_ms']:.1f} ms\n  {result['breakdown']}\n"
        f"  CPU ms per mutation {cpu['ms_per_mutation']}, {cpu['cores_busy']} of "
        f"{cpu['cores']} cores busy\n  at {half_config.lag_rate:g}/s: p50 "
        f"{half['lag']['p50_ms']:.1f} ms p99 {half['lag']['p99_ms']:.1f} ms, "
        f"{half['cpu']['cores_busy']} cores busy"
    )
    return {
        "rate": config.lag_rate,
        "achieved_rate": result["achieved_rate"],
        "p50_ms": lag["p50_ms"],
        "p99_ms": lag["p99_ms"],
        "baseline_p50_ms": base_lag["p50_ms"],
        "baseline_p99_ms": base_lag["p99_ms"],
        "ours": result,
        "baseline": base,
        "half_rate": {
            "rate": half_config.lag_rate,
            "p50_ms": half["lag"]["p50_ms"],
            "p99_ms": half["lag"]["p99_ms"],
            "ours": half,
        },
    }
