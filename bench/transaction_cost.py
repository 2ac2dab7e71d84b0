"""What one Kafka transaction costs, beside one idempotent produce of the same record.

The command service appends each batch of commands in a transaction over two partitions, the
events' and the changelog's (services/command/adapters/kafka_partition.py). Under a crowd of
clients a transaction carries many commands; at a steady, modest rate (the lag phase's 200
mutations/s over six partitions) most carry one, and the transaction's fixed cost is paid per
mutation: AddPartitionsToTxn, the produce, EndTxn, and on the broker the transaction log's
records and the commit markers. This measures that cost on the bench's Kafka, one at a time:
the client's CPU (aiokafka, in this process, tuned as the command service tunes it), the
broker's (when it runs natively, see stack.infrastructure_pids) and the time each took.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from bench import kafka_admin
from bench.config import Config
from bench.stack import cpu_seconds
from shared.adapters import private_api

EVENT = b"e" * 600  # about a ProductUpdated CloudEvent
STATE = b"s" * 300  # about a product's changelog record


async def _measure(
    one: Callable[[], Awaitable[None]], count: int, broker: int | None
) -> dict[str, float | None]:
    for _ in range(count // 10):  # warm-up
        await one()
    broker_before = cpu_seconds(broker) if broker else 0.0
    cpu_before, started = time.process_time(), time.perf_counter()
    for _ in range(count):
        await one()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    return {
        "client_cpu_ms": round(1000 * cpu / count, 3),
        "broker_cpu_ms": round(1000 * (cpu_seconds(broker) - broker_before) / count, 3)
        if broker
        else None,
        "ms": round(1000 * elapsed / count, 3),
    }


async def run(config: Config, broker: int | None, count: int = 500) -> dict[str, Any]:
    """`broker`: Kafka's pid, or None when its CPU cannot be read (Docker)."""
    private_api.tune_aiokafka()
    topic = f"{config.lag_topic}.transactions"
    await kafka_admin.create_topic(config.kafka, topic, 2)
    transactional = AIOKafkaProducer(
        bootstrap_servers=config.kafka,
        transactional_id=f"{topic}-producer",
        enable_idempotence=True,
        acks="all",
        linger_ms=0,
    )
    idempotent = AIOKafkaProducer(
        bootstrap_servers=config.kafka, enable_idempotence=True, acks="all", linger_ms=0
    )
    await transactional.start()
    await idempotent.start()

    async def transaction() -> None:
        await transactional.begin_transaction()
        event = await transactional.send(topic, EVENT, key=b"product", partition=0)
        state = await transactional.send(topic, STATE, key=b"product", partition=1)
        await event
        await state
        await transactional.commit_transaction()

    async def produce() -> None:
        await (await idempotent.send(topic, EVENT, key=b"product", partition=0))

    try:
        return {
            "transaction": await _measure(transaction, count, broker),
            "produce": await _measure(produce, count, broker),
        }
    finally:
        await transactional.stop()
        await idempotent.stop()
