"""The write side's start-up, takeover and scale-out (`write_side_startup` in latest.json).

- **Start-up, flat in the log's length.** The same catalog (`products` products) with two
  histories: a short log (2 events per product) and a long one (10 per product), each on a topic
  of its own, written straight to Kafka as a legacy writer would have, with no changelog. A
  command instance started on each folds it once (the migration, timed as `migrate_s`) and writes
  the changelog; a second start is then timed from process start to `/ready` 200, with its
  resident memory afterwards. Targets: ready within 3 s, long/short ≤ 1.2, ≤ 1 KB per product
  above the same process on an empty topic.
- **Takeover.** Two instances share the short log's partitions; one is SIGKILLed; timed until a
  mutation of a product in each of its partitions succeeds through the other. Target ≤ 10 s.
- **One and two instances.** The write mix of the write phase (bench/lua/write.lua) at
  concurrency 32 against one instance, then split over two (16 connections each, so half the
  commands are forwarded), with the CPU per mutation of all command processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from bench import kafka_admin, wrk
from bench.config import JWT_SECRET, ROOT, TOPIC_PREFIX, Config, token
from bench.events import generate
from bench.stack import cpu_seconds, stop_process
from services.command.routing import partition_for
from shared.envelope import to_record

PORTS = (8120, 8121)


def _env(config: Config, topic: str, port: int, group: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka,
        "MONGODB_URL": config.mongodb_url,
        "EVENTS_TOPIC": topic,
        "COMMAND_GROUP_ID": group,
        "COMMAND_PORT": str(port),
        "HOST": "127.0.0.1",
        "JWT_SECRET": JWT_SECRET,
        "LOG_LEVEL": "WARNING",
    }


class Instance:
    def __init__(self, config: Config, topic: str, port: int, group: str) -> None:
        self.port = port
        log_path = config.run_dir / "logs" / f"write-side-{port}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.command"],
                cwd=ROOT,
                env=_env(config, topic, port, group),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 600) -> float:
        """Seconds from process start until /ready answers 200."""
        while time.monotonic() - self.started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"command instance on {self.port} exited")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2):
                    return time.monotonic() - self.started
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"command instance on {self.port} not ready in {timeout_s} s")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def owned(self) -> list[int]:
        url = f"http://127.0.0.1:{self.port}/ownership"
        with urllib.request.urlopen(url, timeout=5) as response:
            return sorted(int(p) for p in orjson.loads(response.read())["owned"])

    def stop(self) -> None:
        stop_process(self.process, grace_s=30)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


async def _produce(
    config: Config, topic: str, products: int, updates: int
) -> tuple[int, list[str]]:
    """Append the generated history to `topic`; the event count and the product ids."""
    await kafka_admin.create_topic(config.kafka, topic, partitions=6)
    producer = AIOKafkaProducer(
        bootstrap_servers=config.kafka, acks="all", enable_idempotence=True, linger_ms=5,
        max_batch_size=256 * 1024,
    )  # fmt: skip
    await producer.start()
    count = 0
    seen: dict[str, None] = {}
    try:
        pending = []
        for envelope in generate(products, seed=11, updates=updates):
            key, value, headers = to_record(envelope)
            pending.append(await producer.send(topic, value, key=key, headers=headers))
            seen.setdefault(envelope.product_id)
            count += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count, list(seen)


def _startup(config: Config, topic: str, group: str) -> dict[str, Any]:
    first = Instance(config, topic, PORTS[0], group)
    migrate_s = first.wait_ready()
    first.stop()
    second = Instance(config, topic, PORTS[0], group)
    try:
        ready_s = second.wait_ready()
        time.sleep(1)  # let the restore's garbage go before reading the memory
        rss = second.rss_mb()
    finally:
        second.stop()
    return {"migrate_s": round(migrate_s, 2), "ready_s": round(ready_s, 2), "rss_mb": round(rss, 1)}


def _create(port: int, pid: str) -> dict[str, Any]:
    body = orjson.dumps(
        {
            "query": "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
            "variables": {
                "i": {"id": pid, "sku": "PROBE", "name": "probe",
                      "price": {"amount": "1.00", "currency": "EUR"}},
            },
        }
    )  # fmt: skip
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {token()}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = orjson.loads(response.read())
    return answer


def _takeover(config: Config, topic: str, group: str) -> dict[str, Any]:
    a = Instance(config, topic, PORTS[0], group)
    a.wait_ready()
    b = Instance(config, topic, PORTS[1], group)
    b.wait_ready()
    try:
        deadline = time.monotonic() + 60
        while not (a.owned() and b.owned()) and time.monotonic() < deadline:
            time.sleep(0.2)
        lost = b.owned()
        probes = {}
        for p in lost:
            while partition_for(pid := str(uuid.uuid4()), 6) != p:
                pass
            probes[p] = pid
        b.kill()
        killed = time.monotonic()
        for pid in probes.values():
            while "errors" in _create(a.port, pid):
                if time.monotonic() - killed > 120:
                    raise TimeoutError("partitions not taken over in 120 s")
                time.sleep(0.05)
        return {"takeover_s": round(time.monotonic() - killed, 2), "partitions": lost}
    finally:
        a.stop()
        b.stop()


def _throughput(config: Config, topic: str, group: str, ids: Path, two: bool) -> dict[str, Any]:
    instances = [Instance(config, topic, port, group) for port in (PORTS if two else PORTS[:1])]
    try:
        for instance in instances:
            instance.wait_ready()
        if two:
            deadline = time.monotonic() + 60
            while not all(i.owned() for i in instances) and time.monotonic() < deadline:
                time.sleep(0.2)
        env = {"BENCH_IDS": str(ids)}
        connections = 32 // len(instances)
        urls = [f"http://127.0.0.1:{i.port}/graphql" for i in instances]
        for url in urls:  # warm-up, not counted
            wrk.run(url, "write.lua", connections, config.warmup_seconds, env)
        cpu_before = sum(cpu_seconds(i.process.pid) for i in instances)
        results: list[wrk.WrkResult] = []

        def load(url: str) -> None:
            results.append(wrk.run(url, "write.lua", connections, config.write_seconds, env))

        threads = [threading.Thread(target=load, args=(url,)) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu = sum(cpu_seconds(i.process.pid) for i in instances) - cpu_before
    finally:
        for instance in instances:
            instance.stop()
    requests = sum(r.requests - r.failed for r in results)
    return {
        "instances": len(instances),
        "rps": round(sum(r.rps for r in results), 1),
        "p99_ms": round(max(r.pct(99) for r in results), 2),
        "failed": sum(r.failed for r in results),
        "cpu_ms_per_mutation": round(cpu * 1000 / requests, 3) if requests else None,
    }


def run(config: Config, log: Any = print) -> dict[str, Any]:
    products = 10_000 if config.quick else 100_000
    prefix = f"{TOPIC_PREFIX}{config.run_id}.write-side"
    ids = config.run_dir / "write-side-ids.txt"
    ids.parent.mkdir(parents=True, exist_ok=True)
    logs: dict[str, Any] = {}
    for label, updates in (("short", 1), ("long", 9)):
        topic = f"{prefix}-{label}"
        events, product_ids = asyncio.run(_produce(config, topic, products, updates))
        ids.write_text("\n".join(product_ids) + "\n")
        measured = _startup(config, topic, f"{prefix}-{label}-group")
        logs[label] = {"events": events, **measured}
        log(
            f"  {label} log ({events:,} events, {products:,} products): first start (migration) "
            f"{measured['migrate_s']} s, then ready in {measured['ready_s']} s, "
            f"RSS {measured['rss_mb']} MB"
        )
    empty_topic = f"{prefix}-empty"
    asyncio.run(kafka_admin.create_topic(config.kafka, empty_topic, partitions=6))
    empty = _startup(config, empty_topic, f"{prefix}-empty-group")
    short, long_ = logs["short"], logs["long"]
    takeover = _takeover(config, f"{prefix}-short", f"{prefix}-short-group")
    log(
        f"  takeover after SIGKILL: {takeover['takeover_s']} s (partitions {takeover['partitions']})"
    )
    one = _throughput(config, f"{prefix}-short", f"{prefix}-tp1", ids, two=False)
    two = _throughput(config, f"{prefix}-short", f"{prefix}-tp2", ids, two=True)
    log(
        f"  c=32: one instance {one['rps']} rps ({one['cpu_ms_per_mutation']} ms CPU/mutation), "
        f"two {two['rps']} rps ({two['cpu_ms_per_mutation']} ms CPU/mutation, forwarding included)"
    )
    return {
        "products": products,
        "short": short,
        "long": long_,
        "empty_process": empty,
        "ready_s": max(short["ready_s"], long_["ready_s"]),
        "long_over_short": round(long_["ready_s"] / short["ready_s"], 3),
        "rss_kb_per_product": round(
            (max(short["rss_mb"], long_["rss_mb"]) - empty["rss_mb"]) * 1024 / products, 3
        ),
        "takeover_s": takeover["takeover_s"],
        "throughput": {"one": one, "two": two},
    }
