"""Follow the catalog's `product-events` topic the way a team outside the catalog would.

Keeps every product's current state in a dict, using nothing but the published contract
(schema/asyncapi.yaml) and aiokafka (`pip install aiokafka`). Prints each event as it applies
it, and the products when it stops (Ctrl-C, or after `--idle-exit` seconds without records).

    python consume_product_events.py --bootstrap 127.0.0.1:9092 --group my-team
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from aiokafka import AIOKafkaConsumer

# Every (type, version) this consumer understands, after upcasting.
KNOWN = {("ProductCreated", 2), ("ProductUpdated", 2), ("ProductDeleted", 1)}

products: dict[str, dict[str, Any]] = {}
applied: set[str] = set()  # ce_id of every applied event; keep it durable in a real consumer


def upcast(type_: str, version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Old versions stay in the log forever: read them as the latest one."""
    if (type_, version) == ("ProductCreated", 1):
        return 2, {**data, "brand": None}  # v2 added `brand`; v1 products had none
    if (type_, version) == ("ProductUpdated", 1):
        return 2, data  # an absent field is unchanged, and v1 never changed the brand
    return version, data


def handle(headers: dict[str, str], value: bytes) -> None:
    if headers["ce_id"] in applied:
        return  # delivered again (at-least-once): already applied
    _, type_, v = headers["ce_type"].split(".")  # "catalog.ProductCreated.v2"
    version, data = upcast(type_, int(v.removeprefix("v")), json.loads(value))
    if (type_, version) not in KNOWN:
        raise SystemExit(f"unknown event {headers['ce_type']}: upgrade this consumer")
    product_id, sequence = headers["ce_subject"], int(headers["ce_sequence"])
    if type_ == "ProductCreated":
        products[product_id] = data
    elif type_ == "ProductUpdated":
        products[product_id].update(data)  # only the changed fields; null clears a field
    else:
        products[product_id]["deleted"] = True
    products[product_id]["version"] = sequence  # 1, 2, 3 … per product, in partition order
    applied.add(headers["ce_id"])
    print(f"{product_id} v{sequence} {type_}: {data}")


async def consume(bootstrap: str, topic: str, group: str, idle_exit: float | None) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        isolation_level="read_committed",  # the catalog writes in transactions
        auto_offset_reset="earliest",  # a new group starts at the very first event
        enable_auto_commit=False,  # commit only what has been applied
    )
    await consumer.start()
    last_record = time.monotonic()
    try:
        while idle_exit is None or time.monotonic() - last_record < idle_exit:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    headers = {name: raw.decode() for name, raw in record.headers}
                    handle(headers, record.value)
                    last_record = time.monotonic()
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()
        print(json.dumps(products, indent=2, sort_keys=True))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="product-events")
    parser.add_argument("--group", default="product-events-example")
    parser.add_argument("--idle-exit", type=float, help="stop after this many idle seconds")
    args = parser.parse_args()
    asyncio.run(consume(args.bootstrap, args.topic, args.group, args.idle_exit))
