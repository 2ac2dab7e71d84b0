"""`make bench`: every phase in order, then latest.json, the markdown summary and the plots.

1. projection (+ log ceiling) — before the bench's services start, so nothing else competes;
2. the bench's own command/projector/query instances and the baseline app are started;
3. write path at each concurrency, 4. end-to-end lag, 5. queries, 6. subscription fan-out,
7. (BENCH_PROFILE=1) profiles, 8. tracing's cost per mutation, 9. the write side's start-up;
peak RSS sampled throughout.

A phase that fails is recorded under "errors" and the others still run. Whatever the bench
created (its services, topics and databases) is removed at the end unless BENCH_KEEP=1.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop
from pymongo import MongoClient

from bench import (
    kafka_admin,
    lag,
    machine,
    peer,
    plots,
    queries,
    report,
    stack,
    tracing_cost,
    transaction_cost,
    write_path,
    write_side,
    wrk,
)
from bench import profile as profiler
from bench.config import RESULTS_DIR, ROOT, Config, load, token
from bench.targets import check


def log(message: str) -> None:
    print(message, flush=True)


def _projection_step(config: Config, step: str, ids: Path) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench.projection", step,
        "--kafka", config.kafka, "--mongodb-url", config.mongodb_url,
        "--topic", config.events_topic, "--database", config.database,
        "--raw-database", config.raw_database, "--events", str(config.projection_events),
        "--batch", str(config.replay_batch), "--ids", str(ids),
        "--group", config.projector_group,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.projection {step} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def projection(config: Config, ids: Path, results: dict[str, Any]) -> None:
    produced = _projection_step(config, "produce", ids)
    results["log_ceiling"] = {
        "rps": produced["rps"],
        "records": produced["records"],
        "record_bytes": produced["record_bytes"],
        "seconds": produced["seconds"],
    }
    log(f"  log ceiling {produced['rps']:,.0f} records/s ({produced['record_bytes']} B records)")
    replayed = _projection_step(config, "replay", ids)
    raw = _projection_step(config, "raw", ids)
    events = replayed["events"]
    raw_per_s = events / raw["seconds"]
    results["projection"] = {
        "events": events,
        "products": produced["products"],
        "seconds": replayed["seconds"],
        "events_per_s": replayed["events_per_s"],
        "raw_seconds": raw["seconds"],
        "raw_bulk_per_s": round(raw_per_s, 1),
        "ratio": round(replayed["events_per_s"] / raw_per_s, 3),
        "batch": config.replay_batch,
        "unreadable": replayed["unreadable"],
        "gaps": replayed["gaps"],
        "mongo_s": replayed["mongo_s"],
        "mongo_commands": replayed["mongo_commands"],
        "raw_documents": raw["documents"],
        "raw_txn_seconds": raw["txn_seconds"],
        "raw_txn_bulk_per_s": round(events / raw["txn_seconds"], 1),
        "ratio_vs_raw_txn": round(replayed["events_per_s"] * raw["txn_seconds"] / events, 3),
        "raw_insert_seconds": raw["insert_seconds"],
        "raw_insert_per_s": round(events / raw["insert_seconds"], 1),
        "ratio_vs_raw_insert": round(replayed["events_per_s"] * raw["insert_seconds"] / events, 3),
        "raw_mongo_s": raw["mongo_s"],
        "raw_mongo_commands": raw["mongo_commands"],
    }
    log(
        f"  replay {events:,} events in {replayed['seconds']:.1f} s = "
        f"{replayed['events_per_s']:,.0f}/s | raw bulk {raw['seconds']:.1f} s = "
        f"{raw_per_s:,.0f}/s | ratio {results['projection']['ratio']:.2f}"
    )


def fanout(config: Config, pids: dict[str, int]) -> dict[str, Any]:
    """bench/fanout.py as a process of its own, so its CPU is its own and it shares no event
    loop with the bench; its last line of output is the results."""
    command = [
        sys.executable, "-m", "bench.fanout", "--json",
        "--query-url", config.url("query"), "--command-url", config.url("command"),
        "--token", token(), "--query-pid", str(pids["query"]),
        "--mutations", str(config.fanout_mutations), "--interval", str(config.fanout_interval_s),
        "--subscribers", *(str(n) for n in config.fanout_subscribers),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.fanout failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    for line in lines[:-1]:
        log(line)
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _metric(config: Config, service: str, name: str) -> list[float]:
    """Every sample of one metric from a bench service's /metrics, whatever its labels."""
    with urllib.request.urlopen(config.url(service, "/metrics"), timeout=5) as response:
        text = response.read().decode()
    return [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " "))
    ]


def wait_projector_idle(config: Config, timeout_s: float = 300) -> float:
    """Wait until the bench projector has no lag left (its /metrics), so phases do not overlap."""
    started = time.monotonic()
    zero_in_a_row = 0
    while time.monotonic() - started < timeout_s:
        lags = _metric(config, "projector", "catalog_projector_lag")
        zero_in_a_row = zero_in_a_row + 1 if lags and sum(lags) == 0 else 0
        if zero_in_a_row >= 2:
            break
        time.sleep(1)
    return round(time.monotonic() - started, 1)


def wait_query_cache_warm(config: Config, products: int, timeout_s: float = 120) -> float:
    """Wait until the query service has read the catalog into its product cache: warming takes
    a few seconds of CPU after start, which the first write measurements would pay for."""
    started = time.monotonic()
    warm_in_a_row = 0  # each answer is one worker's (QUERY_WORKERS): several, to see them all
    while time.monotonic() - started < timeout_s:
        entries = sum(_metric(config, "query", "catalog_query_product_cache_entries"))
        warm_in_a_row = warm_in_a_row + 1 if entries >= products else 0
        if warm_in_a_row >= 6:
            break
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


def profile(config: Config, ids: Path, results: dict[str, Any]) -> None:
    """Sample the services with py-spy under the write and the product(id) load, and the
    projection replay (again, into a scratch database), after the measurements — sampling
    costs a little CPU, so no reported figure comes from a profiled run."""
    out = RESULTS_DIR / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    pids = stack.service_pids(config)
    seconds = max(8.0, config.write_seconds)
    summaries: dict[str, Any] = {}
    loads = [
        (("command", "projector"), config.url("command"), "write.lua", {}),
        (("query",), config.url("query"), "query.lua", {"BENCH_MODE": "product"}),
    ]
    for services, url, script, env in loads:
        samplers = [(s, profiler.record(pids[s], seconds - 2, out / f"{s}.txt")) for s in services]
        wrk.run(url, script, 32, seconds, {"BENCH_IDS": str(ids), **env})
        for name, sampler in samplers:
            sampler.wait(60)
            summaries[name] = profiler.summarize(out / f"{name}.txt")
        wait_projector_idle(config)
    replay_out = out / "replay.txt"
    command = [
        sys.executable, "-m", "bench.projection", "replay",
        "--kafka", config.kafka, "--mongodb-url", config.mongodb_url,
        "--topic", config.events_topic, "--database", f"{config.database}_profile",
        "--events", str(config.projection_events), "--batch", str(config.replay_batch),
        "--group", f"{config.projector_group}-profile",
    ]  # fmt: skip
    py_spy = Path(sys.executable).with_name("py-spy")
    subprocess.run(
        [str(py_spy), "record", "--rate", "200", "--format", "raw", "--nonblocking",
         "--output", str(replay_out), "--", *command],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    summaries["replay"] = profiler.summarize(replay_out)
    results["profiles"] = summaries
    for name, summary in summaries.items():
        log(f"  {name}: {summary.get('layers_pct')}")


def cleanup(config: Config) -> None:
    asyncio.run(kafka_admin.delete_bench_topics(config.kafka))
    client: MongoClient[dict[str, Any]] = MongoClient(
        config.mongodb_url, serverSelectionTimeoutMS=5000
    )
    with client:
        for name in (config.database, config.raw_database, f"{config.database}_profile"):
            client.drop_database(name)


def _phase(
    name: str, results: dict[str, Any], timings: dict[str, float], action: Callable[[], None]
) -> None:
    log(f"[{time.strftime('%H:%M:%S')}] {name}")
    started = time.monotonic()
    try:
        action()
    except Exception as exc:
        results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:2000]
        log(f"  FAILED: {exc}")
    timings[name] = round(time.monotonic() - started, 1)


def main() -> None:
    config = load()
    try:
        wrk.check()
    except wrk.WrkMissing as exc:
        sys.exit(f"error: {exc}")
    try:
        asyncio.run(kafka_admin.reachable(config.kafka))
        machine_info = machine.describe(config)
    except Exception as exc:
        sys.exit(f"error: Kafka or MongoDB not reachable ({exc}): start the stack with `make up`")
    started = time.monotonic()
    results: dict[str, Any] = {
        "run_id": config.run_id,
        "quick": config.quick,
        "machine": machine_info,
    }
    timings: dict[str, float] = {}
    results["phases_s"] = timings
    log(
        f"bench run {config.run_id} ({'quick' if config.quick else 'full'}); results in {RESULTS_DIR}"
    )
    stack.stop_services(config)  # leftovers of an interrupted run
    cleanup(config)
    rss = stack.RssSampler()
    baseline = stack.Baseline(config)
    node_peer = peer.NodePeer(config)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        catalog_ids = Path(tmp) / "catalog.txt"
        try:
            _phase("projection", results, timings, lambda: projection(config, catalog_ids, results))

            pids: dict[str, int] = {}

            def start() -> None:
                asyncio.run(kafka_admin.create_topic(config.kafka, config.baseline_topic, 6))
                stack.start_services(config)
                pids.update(stack.service_pids(config))
                pids["baseline"] = baseline.start()
                asyncio.run(kafka_admin.create_topic(config.kafka, config.peer_topic, 6))
                pids["peer"] = node_peer.start()
                for name, pid in pids.items():
                    rss.watch(
                        {"baseline": "baseline_app", "peer": "node_peer"}.get(name, name), pid
                    )
                rss.start()
                products = len(catalog_ids.read_text().split())
                timings["query_cache_warm"] = wait_query_cache_warm(config, products)

            _phase("start", results, timings, start)

            def write() -> None:
                # The write path alone, as the baseline's and the peer's are (write_path).
                stack.stop_service(config, "projector")
                try:
                    results["write"] = write_path.run(config, catalog_ids, pids, log)
                finally:
                    stack.start_services(config)
                    pids.update(stack.service_pids(config))
                    rss.watch("projector", pids["projector"])
                timings["projector_catch_up"] = wait_projector_idle(config)
                projected = write_path.projected(config, catalog_ids, pids)
                results["write"]["projected"] = projected
                log(
                    f"  c=32 with the projector projecting: {projected['rps']:.1f} rps, p99 "
                    f"{projected['p99_ms']:.1f} ms, projector CPU "
                    f"{projected['projector_cpu_ms_per_request']:.2f} ms per mutation"
                )
                wait_projector_idle(config)

            _phase("write", results, timings, write)

            def e2e() -> None:
                ids = catalog_ids.read_text().split()
                watched = {name: pids[name] for name in stack.SERVICES if name in pids}
                watched.update(stack.infrastructure_pids())
                results["e2e_lag"] = uvloop.run(lag.run(config, ids, watched, log))
                costs = uvloop.run(transaction_cost.run(config, watched.get("kafka")))
                results["e2e_lag"]["transaction_cost"] = costs
                log(f"  one mutation's Kafka transaction vs one produce: {costs}")
                wait_projector_idle(config)

            _phase("e2e_lag", results, timings, e2e)

            def query() -> None:
                count = len(catalog_ids.read_text().split())
                results["query"] = queries.run(config, catalog_ids, count, pids, log)

            _phase("query", results, timings, query)

            def subscription_fanout() -> None:
                results["fanout"] = fanout(config, pids)
                wait_projector_idle(config)

            _phase("fanout", results, timings, subscription_fanout)
            if config.profile:
                _phase("profile", results, timings, lambda: profile(config, catalog_ids, results))

            def tracing() -> None:
                products = len(catalog_ids.read_text().split())
                results["tracing"] = tracing_cost.run(
                    config,
                    catalog_ids,
                    lambda: wait_projector_idle(config),
                    lambda: wait_query_cache_warm(config, products),
                    log,
                )

            _phase("tracing", results, timings, tracing)

            def write_side_startup() -> None:
                stack.stop_services(config)  # the phase starts its own command instances
                results["write_side_startup"] = write_side.run(config, log)

            _phase("write_side_startup", results, timings, write_side_startup)
        finally:
            results["rss_mb"] = rss.stop()
            baseline.stop()
            node_peer.stop()
            stack.stop_services(config)
            if not config.keep:
                cleanup(config)
    results["machine"]["load_average_end"] = machine.load_average()
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["targets"] = check(results)
    latest = report.write_json(results, RESULTS_DIR, config.run_id)
    summary = report.write_markdown(results, RESULTS_DIR, config.run_id)
    pngs = plots.write_all(results, RESULTS_DIR)
    log(f"\nwrote {latest}, {summary} and {', '.join(p.name for p in pngs)}\n")
    log(summary.read_text())
