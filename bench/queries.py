"""Reads: product(id) and a filtered products(first: 20) page through the query service's
GraphQL endpoint, next to the baseline app's bare find_one / find endpoints, at concurrency 32
over the products the projection phase replayed (100,000 in a full run); then the listing shapes
clients use most (issue 15), through GraphQL only, with the query service's CPU per request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import wrk
from bench.config import Config
from bench.events import CATEGORIES

MODES = {"product_by_id": "product", "products_page": "page"}
# bench/lua/query.lua's SHAPES: category + price range by price, a tag by newest, everything by
# last update, and a name substring (which no index narrows: bounded, see the README).
LISTING_SHAPES = ("category_price_range", "tag_newest", "all_recently_updated", "name_contains")


def _measure(config: Config, url: str, env: dict[str, str], pid: int) -> wrk.WrkResult:
    c = config.query_concurrency
    wrk.run(url, "query.lua", c, config.warmup_seconds, env)
    return wrk.run(url, "query.lua", c, config.query_seconds, env, server_pid=pid)


def _figures(result: wrk.WrkResult) -> dict[str, Any]:
    """Throughput and latency of one measured run, as every query phase reports them."""
    return {
        "rps": round(result.rps, 1),
        "p50_ms": round(result.pct(50), 2),
        "p99_ms": round(result.pct(99), 2),
    }


def run(
    config: Config, ids: Path, products: int, pids: dict[str, int], log: Any = print
) -> dict[str, Any]:
    """`pids`: of the query service and the baseline app, for their CPU per request."""
    results: dict[str, Any] = {"concurrency": config.query_concurrency, "products": products}
    for name, mode in MODES.items():
        env = {"BENCH_IDS": str(ids), "BENCH_MODE": mode, "BENCH_CATEGORIES": str(CATEGORIES)}
        base = _measure(
            config, config.url("baseline", "/"), {**env, "BENCH_REST": "1"}, pids["baseline"]
        )
        ours = _measure(config, config.url("query"), env, pids["query"])
        ratio = ours.rps / base.rps if base.rps else 0.0
        results[name] = {
            **_figures(ours),
            "baseline_rps": round(base.rps, 1),
            "baseline_p99_ms": round(base.pct(99), 2),
            "ratio": round(ratio, 3),
            "ours": ours.summary(),
            "baseline": base.summary(),
        }
        if ours.failed:
            results[name]["failure_sample"] = ours.failure_sample
        log(
            f"  {name:<14} ours {ours.rps:8.1f} rps p99 {ours.pct(99):7.1f} ms | baseline "
            f"{base.rps:8.1f} rps p99 {base.pct(99):7.1f} ms | ratio {ratio:.2f} | CPU/request "
            f"{ours.cpu().get('server_cpu_ms_per_request', 0):.2f} vs "
            f"{base.cpu().get('server_cpu_ms_per_request', 0):.2f} ms"
            + (f" | {ours.failed} failed" if ours.failed else "")
        )
    shapes: dict[str, Any] = {}
    for shape in LISTING_SHAPES:
        env = {"BENCH_MODE": shape, "BENCH_CATEGORIES": str(CATEGORIES)}
        ours = _measure(config, config.url("query"), env, pids["query"])
        shapes[shape] = {
            **_figures(ours),
            **ours.cpu(),
            "ours": ours.summary(),
        }
        if ours.failed:
            shapes[shape]["failure_sample"] = ours.failure_sample
        log(
            f"  {shape:<22} {ours.rps:8.1f} rps p99 {ours.pct(99):7.1f} ms | CPU/request "
            f"{ours.cpu().get('server_cpu_ms_per_request', 0):.2f} ms"
            + (f" | {ours.failed} failed" if ours.failed else "")
        )
    results["listing_shapes"] = shapes
    return results
