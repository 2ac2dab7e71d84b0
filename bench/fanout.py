"""Subscription fan-out: N subscribers of `productChanged` (all products, no id argument) over
graphql-transport-ws, and M createProduct mutations through the command service, sent open loop
at a steady interval. Latency per push = the push's arrival at a subscriber - the arrival of the
mutation's answer, so every mutation is counted N times; a push that never came is counted as
missing, not as a latency.

The generator is a process of its own (the bench runs `python -m bench.fanout --json` as a
child), never the service's, and reports its own CPU time (getrusage) over the measured window:
reading N sockets costs the client CPU too, and on a small machine shared with the service it
competes with what is measured. The query service's CPU over the same window is reported when
its pid is given.

Before the measured mutations one warm-up mutation must reach every subscriber: the protocol
has no acknowledgement of `subscribe`, so that push is what says every subscription is live.

By hand, against a running stack (`make up`): `python -m bench.fanout --subscribers 1000`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop

from bench.client import call
from bench.histogram import Latencies
from bench.stack import cpu_seconds

CREATE = "mutation($in: CreateProductInput!) { createProduct(input: $in) { id version } }"
SUBSCRIPTION = (
    "subscription { productChanged { id type version "
    "product { id sku name price { amount currency } category tags version updatedAt } } }"
)
PROTOCOL = "graphql-transport-ws"


@dataclass
class Pushes:
    """Arrival times of pushes per product id, and what went wrong, over all subscribers."""

    arrivals: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def arrived(self, product_id: str, at: float) -> None:
        self.arrivals.setdefault(product_id, []).append(at)

    def count(self, ids: Iterable[str]) -> int:
        return sum(len(self.arrivals.get(i, ())) for i in ids)


def latencies(answers: dict[str, float], pushes: Pushes, subscribers: int) -> tuple[Latencies, int]:
    """Per push: its arrival - its mutation's answer; and how many expected pushes are missing.

    A push that beat the answer (possible in principle: the answer and the change travel
    separate ways) counts as the smallest latency the histogram holds rather than a negative.
    """
    hist = Latencies()
    for product_id, answered in answers.items():
        for at in pushes.arrivals.get(product_id, ()):
            hist.record(max(0.0, at - answered))
    return hist, subscribers * len(answers) - hist.count


def spread(answers: dict[str, float], pushes: Pushes) -> dict[str, float]:
    """Per mutation, the first push's latency (the way to the feed: projector, change stream)
    and the time from its first push to its last (the fan-out itself): medians and maxima, ms.
    """
    firsts, spans = [], []
    for product_id, answered in answers.items():
        arrived = pushes.arrivals.get(product_id)
        if arrived:
            firsts.append(min(arrived) - answered)
            spans.append(max(arrived) - min(arrived))
    if not firsts:
        return {}
    return {
        "first_push_p50_ms": round(1000 * statistics.median(firsts), 2),
        "first_push_max_ms": round(1000 * max(firsts), 2),
        "fanout_span_p50_ms": round(1000 * statistics.median(spans), 2),
        "fanout_span_max_ms": round(1000 * max(spans), 2),
    }


def _create(i: int) -> dict[str, Any]:
    product_id = str(uuid.uuid4())
    return {
        "in": {
            "id": product_id,
            "sku": f"FANOUT-{i}-{product_id[:8]}",
            "name": f"Fan-out product {i}",
            "price": {"amount": f"{10 + i % 90}.{i % 100:02d}", "currency": "EUR"},
            "category": "fanout",
            "tags": ["bench", "fanout"],
        }
    }


async def _subscriber(
    session: aiohttp.ClientSession,
    url: str,
    token: str | None,
    pushes: Pushes,
    ready: asyncio.Event,
) -> None:
    """One connection, one subscription: records each push's arrival until the socket closes."""
    async with session.ws_connect(url, protocols=(PROTOCOL,), max_msg_size=0) as ws:
        init: dict[str, Any] = {"type": "connection_init"}
        if token is not None:
            init["payload"] = {"Authorization": f"Bearer {token}"}
        await ws.send_str(json.dumps(init))
        ack = orjson.loads((await ws.receive()).data)
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        await ws.send_str(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        ready.set()
        async for message in ws:
            at = time.perf_counter()  # uvloop's loop.time() is in whole milliseconds
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            body = orjson.loads(message.data)
            kind = body.get("type")
            if kind == "next":
                payload = body["payload"]
                if payload.get("errors"):
                    pushes.errors.append(str(payload["errors"])[:300])
                else:
                    pushes.arrived(payload["data"]["productChanged"]["id"], at)
            elif kind == "ping":
                await ws.send_str('{"type":"pong"}')
            elif kind in ("error", "complete"):
                pushes.errors.append(str(body)[:300])
                break


async def _wait_for(condition: Any, timeout_s: float, step_s: float = 0.02) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(step_s)
    return True


async def measure(
    query_url: str,
    command_url: str,
    token: str | None,
    subscribers: int,
    mutations: int,
    interval_s: float,
    drain_s: float = 15.0,
    query_pid: int | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Subscribe `subscribers` times, then send `mutations` creates `interval_s` apart."""
    loop = asyncio.get_running_loop()
    ws_url = query_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    pushes = Pushes()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        readies = [asyncio.Event() for _ in range(subscribers)]
        tasks = [
            asyncio.create_task(_subscriber(session, ws_url, token, pushes, ready))
            for ready in readies
        ]
        started = loop.time()
        if not await _wait_for(lambda: all(r.is_set() for r in readies), 120, 0.1):
            failed = [str(t.exception())[:200] for t in tasks if t.done() and t.exception()]
            raise RuntimeError(f"subscribers did not connect: {failed[:3]}")
        connect_s = loop.time() - started
        warmup = (await call(session, command_url, CREATE, _create(-1), token))["createProduct"]
        if not await _wait_for(lambda: pushes.count([warmup["id"]]) >= subscribers, 60):
            raise RuntimeError(
                f"warm-up push reached {pushes.count([warmup['id']])} of {subscribers} subscribers"
            )
        answers: dict[str, float] = {}

        async def mutate(i: int) -> None:
            done = await call(session, command_url, CREATE, _create(i), token)
            answers[done["createProduct"]["id"]] = time.perf_counter()

        load_before = os.getloadavg()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        server_before = cpu_seconds(query_pid) if query_pid else None
        window_start = loop.time()
        sends = []
        for i in range(mutations):
            due = window_start + i * interval_s
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            sends.append(asyncio.create_task(mutate(i)))
        await asyncio.gather(*sends)
        expected = subscribers * mutations
        delivered_all = await _wait_for(lambda: pushes.count(answers) >= expected, drain_s)
        window_s = loop.time() - window_start
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        server_s = (
            cpu_seconds(query_pid) - server_before
            if query_pid and server_before is not None
            else None
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    hist, missing = latencies(answers, pushes, subscribers)
    client_cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    result: dict[str, Any] = {
        "subscribers": subscribers,
        "mutations": mutations,
        "interval_s": interval_s,
        "pushes_expected": expected,
        "pushes_delivered": hist.count,
        "pushes_missing": missing,
        "all_delivered": delivered_all and missing == 0,
        "p50_ms": round(hist.ms(50), 2),
        "p99_ms": round(hist.ms(99), 2),
        "max_ms": round(hist.ms(100), 2),
        "latency": hist.summary(),
        "connect_s": round(connect_s, 2),
        "window_s": round(window_s, 2),
        "generator_cpu_s": round(client_cpu_s, 2),
        "generator_cpu_pct": round(100 * client_cpu_s / window_s, 1),
        "load_average": [round(x, 2) for x in load_before],
        "errors": len(pushes.errors),
        **spread(answers, pushes),
    }
    if server_s is not None:
        result["query_cpu_s"] = round(server_s, 2)
        result["query_cpu_ms_per_push"] = round(1000 * server_s / max(1, hist.count), 3)
    if pushes.errors:
        result["error_sample"] = pushes.errors[:3]
    log(
        f"  {subscribers:>5} subscribers: {hist.count:,}/{expected:,} pushes, p50 "
        f"{hist.ms(50):.1f} ms p99 {hist.ms(99):.1f} ms max {hist.ms(100):.1f} ms | generator "
        f"CPU {client_cpu_s:.1f} s ({result['generator_cpu_pct']:.0f}% of a core)"
        + (f" | query CPU {server_s:.1f} s" if server_s is not None else "")
        + f" | load {load_before[0]:.2f}"
        + (
            f" | first push p50 {result['first_push_p50_ms']:.1f} ms, fan-out span p50 "
            f"{result['fanout_span_p50_ms']:.1f} max {result['fanout_span_max_ms']:.1f} ms"
            if "first_push_p50_ms" in result
            else ""
        )
    )
    return result


def _default_token() -> str | None:
    """A token signed with JWT_SECRET, or the development secret `make up` generated."""
    from shared.adapters.auth import issue

    secret = os.environ.get("JWT_SECRET")
    run_dir = Path(os.environ.get("RUN_DIR", Path(__file__).resolve().parents[1] / ".run"))
    if not secret and (run_dir / "dev-secret").is_file():
        secret = (run_dir / "dev-secret").read_text().strip()
    return issue(secret, "bench-fanout", 86_400) if secret else None


def _raise_file_limit() -> None:
    """One socket per subscriber: lift this process's soft limit on open files to the hard one
    (often 1,024 against a hard limit far above). The query service needs as many, from the
    shell that started it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, 65_536) if hard == resource.RLIM_INFINITY else hard
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # then the connections will say so
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--query-url", default="http://127.0.0.1:8002/graphql")
    parser.add_argument("--command-url", default="http://127.0.0.1:8001/graphql")
    parser.add_argument("--subscribers", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--mutations", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between mutations")
    parser.add_argument("--query-pid", type=int, help="the query service's pid, for its CPU")
    parser.add_argument("--token", help="bearer token (default: one signed with JWT_SECRET)")
    parser.add_argument("--json", action="store_true", help="last line: the results as JSON")
    args = parser.parse_args()
    token = args.token or _default_token()
    _raise_file_limit()
    results = {}
    for n in args.subscribers:
        results[str(n)] = uvloop.run(
            measure(
                args.query_url,
                args.command_url,
                token,
                n,
                args.mutations,
                args.interval,
                query_pid=args.query_pid,
            )
        )
    if args.json:
        print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
