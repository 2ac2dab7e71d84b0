"""latest.json, its timestamped copy, and the markdown summary of a run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bench.profile import markdown as profile_markdown
from bench.targets import check


def write_json(results: dict[str, Any], directory: Path, run_id: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    latest = directory / "latest.json"
    latest.write_text(json.dumps(results, indent=2) + "\n")
    shutil.copyfile(latest, directory / f"{run_id}.json")
    return latest


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += [
        "| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows
    ]
    return [*lines, ""]


def _cpu(row: dict[str, Any]) -> str:
    """The serving process's CPU per request, ours / baseline (bench/wrk.py)."""
    ours = row["ours"].get("server_cpu_ms_per_request")
    base = row["baseline"].get("server_cpu_ms_per_request")
    return f"{_f(ours, 2)} / {_f(base, 2)}"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [
        f"# Benchmark results — {'quick' if results['quick'] else 'full'} run {results['run_id']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']} "
        f"(kernel {m['kernel']}), Python {m['python']}, {m['kafka']}, MongoDB {m['mongodb']}, "
        f"{m['wrk']}. Kafka, MongoDB, the services and the load generator share these cores. "
        f"Load average at start {m['load_average_start']}, at end "
        f"{m.get('load_average_end', '-')}. Code: {m['git']}. "
        f"Duration {results.get('duration_s', 0):.0f} s.",
        "",
        "Every figure is next to a baseline measured in the same run with the same load "
        "generator; ratio = ours / baseline. See bench/README.md for what each baseline is.",
        "",
        "## Targets",
        "",
    ]
    rows = []
    for row in check(results):
        verdict = {True: "met", False: "**missed**", None: "not measured"}[row["met"]]
        rows.append([row["target"], row["goal"], _f(row["value"], 2), verdict])
    out += _table(["target", "goal", "measured", ""], rows)
    write = results.get("write", {}).get("concurrency", {})
    if write:
        out += [
            "## Write path (create/update mutations, GraphQL)",
            "",
            "Measured with the bench's projector stopped: nothing consumes the baseline's or the"
            " peer's topic either (bench/write_path.py).",
            "",
        ]
        out += _table(
            [
                "concurrency",
                "rps",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "baseline rps",
                "baseline p99 ms",
                "ratio",
                "failed",
                "CPU ms/request ours / baseline",
            ],
            [
                [
                    c,
                    w["rps"],
                    w["p50_ms"],
                    w["p95_ms"],
                    w["p99_ms"],
                    w["baseline_rps"],
                    w["baseline_p99_ms"],
                    _f(w["ratio"], 2),
                    w["ours"]["failed"],
                    _cpu(w),
                ]
                for c, w in write.items()
            ],
        )
        peers = {c: w for c, w in write.items() if "peer_rps" in w}
        if peers:
            out += ["The seed's own JavaScript stack (bench/peers/node-graphql), same bodies:", ""]
            out += _table(
                ["concurrency", "node peer rps", "peer p99 ms", "ours / peer",
                 "p99 ours / peer", "peer failed"],
                [
                    [c, w["peer_rps"], w["peer_p99_ms"], _f(w["peer_ratio"], 2),
                     _f(w.get("peer_p99_ratio"), 2), w["peer"]["failed"]]
                    for c, w in peers.items()
                ],
            )  # fmt: skip
        projected = results["write"].get("projected")
        if projected:
            out += [
                f"With the projector projecting every write as it goes, at concurrency "
                f"{projected['concurrency']}: {_f(projected['rps'])} rps, p99 "
                f"{_f(projected['p99_ms'], 1)} ms, the projector's CPU "
                f"{_f(projected['projector_cpu_ms_per_request'], 2)} ms per mutation.",
                "",
            ]
    if "log_ceiling" in results:
        lc = results["log_ceiling"]
        out += [
            "## Log ceiling",
            "",
            f"Raw aiokafka producer, acks=all, idempotent, {lc['record_bytes']}-byte records "
            f"(our events' key, value and headers), pipelined: **{_f(lc['rps'])} records/s** "
            f"({lc['records']:,} records).",
            "",
        ]
    if "projection" in results:
        p = results["projection"]
        out += ["## Projection (replay from offset 0 into fresh read models)", ""]
        out += _table(
            ["events", "ours s", "ours events/s", "raw bulk s", "raw events/s", "ratio"],
            [
                [
                    p["events"],
                    p["seconds"],
                    p["events_per_s"],
                    p["raw_seconds"],
                    p["raw_bulk_per_s"],
                    _f(p["ratio"], 2),
                ]
            ],
        )
        slowest = ", ".join(
            f"{name} {v['s']:.1f} s" for name, v in list(p.get("mongo_commands", {}).items())[:4]
        )
        out += [
            f"Time in MongoDB commands (driver-side): ours {p.get('mongo_s', '-')} s "
            f"({slowest}), raw {p.get('raw_mongo_s', '-')} s. The same raw upserts with one "
            f"transaction per batch: {p.get('raw_txn_seconds', '-')} s = "
            f"{_f(p.get('raw_txn_bulk_per_s'))} events/s (ours / that: "
            f"{_f(p.get('ratio_vs_raw_txn'), 2)}). The thinnest bulk load of the same documents "
            f"(`insert_many`, indexes built afterwards): {p.get('raw_insert_seconds', '-')} s = "
            f"{_f(p.get('raw_insert_per_s'))} events/s (ours / that: "
            f"{_f(p.get('ratio_vs_raw_insert'), 2)}).",
            "",
        ]
    if "e2e_lag" in results:
        e = results["e2e_lag"]
        out += [
            "## End-to-end lag (mutation answered → visible at the query endpoint)",
            "",
        ]
        out += _table(
            [
                "rate /s",
                "achieved /s",
                "p50 ms",
                "p99 ms",
                "baseline p50 ms",
                "baseline p99 ms",
                "errors / minVersion timeouts",
            ],
            [
                [
                    e["rate"],
                    e["achieved_rate"],
                    e["p50_ms"],
                    e["p99_ms"],
                    e["baseline_p50_ms"],
                    e["baseline_p99_ms"],
                    f"{e['ours']['errors']} / {e['ours'].get('consistency_timeouts', 0)}",
                ]
            ],
        )
        cpu = e["ours"].get("cpu")
        if cpu:
            per = ", ".join(f"{name} {ms:.2f}" for name, ms in cpu["ms_per_mutation"].items())
            out += [
                f"CPU per mutation (ms): {per}; {cpu['cores_busy']} of {cpu['cores']} cores busy "
                "during the run.",
                "",
            ]
        half = e.get("half_rate")
        if half:
            out += [
                f"At half the rate ({half['rate']:g}/s): p50 {_f(half['p50_ms'])} ms, p99 "
                f"{_f(half['p99_ms'])} ms, {half['ours']['cpu']['cores_busy']} cores busy.",
                "",
            ]
        cost = e.get("transaction_cost")
        if cost:
            t, p = cost["transaction"], cost["produce"]
            out += [
                "One mutation's Kafka transaction (an event and a changelog record), one at a "
                f"time: {_f(t['ms'], 2)} ms, aiokafka's CPU {_f(t['client_cpu_ms'], 2)} ms, the "
                f"broker's {_f(t['broker_cpu_ms'], 2)} ms; one idempotent produce of the event: "
                f"{_f(p['ms'], 2)} ms, {_f(p['client_cpu_ms'], 2)} ms, "
                f"{_f(p['broker_cpu_ms'], 2)} ms.",
                "",
            ]
    if "query" in results:
        q = results["query"]
        out += [f"## Queries (concurrency {q['concurrency']}, {q['products']:,} products)", ""]
        out += _table(
            [
                "query",
                "rps",
                "p50 ms",
                "p99 ms",
                "baseline rps",
                "baseline p99 ms",
                "ratio",
                "failed",
                "CPU ms/request ours / baseline",
            ],
            [
                [
                    name,
                    q[name]["rps"],
                    q[name]["p50_ms"],
                    q[name]["p99_ms"],
                    q[name]["baseline_rps"],
                    q[name]["baseline_p99_ms"],
                    _f(q[name]["ratio"], 2),
                    q[name]["ours"]["failed"],
                    _cpu(q[name]),
                ]
                for name in ("product_by_id", "products_page")
                if name in q
            ],
        )
        shapes = q.get("listing_shapes", {})
        if shapes:
            out += ["Listing shapes (`products(filter, sort, first: 20)`, GraphQL only):", ""]
            out += _table(
                ["shape", "rps", "p50 ms", "p99 ms", "failed", "CPU ms/request"],
                [
                    [
                        name,
                        shape["rps"],
                        shape["p50_ms"],
                        shape["p99_ms"],
                        shape["ours"]["failed"],
                        shape.get("server_cpu_ms_per_request", "-"),
                    ]
                    for name, shape in shapes.items()
                ],
            )
    if "fanout" in results:
        out += fanout_markdown(results["fanout"])
    if "write_side_startup" in results:
        w = results["write_side_startup"]
        out += [
            f"## Write side: start-up, takeover, instances ({w['products']:,} products)",
            "",
        ]
        out += _table(
            ["log", "events", "first start (migration), s", "ready after start, s", "RSS, MB"],
            [
                [name, f"{w[name]['events']:,}", w[name]["migrate_s"], w[name]["ready_s"],
                 w[name]["rss_mb"]]
                for name in ("short", "long")
            ]
            + [["none (empty topic)", "0", "", w["empty_process"]["ready_s"],
                w["empty_process"]["rss_mb"]]],
        )  # fmt: skip
        out += [
            f"Long over short: {_f(w['long_over_short'], 2)}; memory above the empty process: "
            f"{_f(w['rss_kb_per_product'], 2)} KB per product; takeover after a SIGKILL: "
            f"{_f(w['takeover_s'])} s.",
            "",
        ]
        out += _table(
            ["instances (concurrency 32 in all)", "rps", "p99 ms", "CPU ms per mutation"],
            [
                [t["instances"], _f(t["rps"]), _f(t["p99_ms"]), _f(t["cpu_ms_per_mutation"], 3)]
                for t in w["throughput"].values()
            ],
        )
    if "tracing" in results:
        out += tracing_markdown(results["tracing"])
    if "rss_mb" in results:
        out += ["## Peak memory (RSS, MB)", ""]
        names = list(results["rss_mb"])
        out += _table(names, [[results["rss_mb"][n] for n in names]])
    if results.get("profiles"):
        out += [
            "## Where the CPU goes (py-spy, BENCH_PROFILE=1, separate from the measured runs)",
            "",
        ]
        for name, summary in results["profiles"].items():
            out += profile_markdown(name, summary)
    if results.get("errors"):
        out += ["## Errors", ""]
        out += [f"- {name}: {error}" for name, error in results["errors"].items()] + [""]
    if results.get("phases_s"):
        out += ["## Phase durations (s)", ""]
        names = list(results["phases_s"])
        out += _table(names, [[results["phases_s"][n] for n in names]])
    return "\n".join(out)


def fanout_markdown(f: dict[str, Any]) -> list[str]:
    """Subscription fan-out (bench/fanout.py): one row per number of subscribers."""
    first: dict[str, Any] = next(iter(f.values()), {})
    out = [
        "## Subscription fan-out (`productChanged` of every product; push arrival - mutation "
        f"answer; {first.get('mutations')} creates {first.get('interval_s')} s apart)",
        "",
    ]
    return out + _table(
        ["subscribers", "pushes delivered / expected", "p50 ms", "p99 ms", "max ms",
         "generator CPU s (% of a core)", "query CPU ms per push", "load average"],
        [
            [r["subscribers"], f"{r['pushes_delivered']:,} / {r['pushes_expected']:,}",
             r["p50_ms"], r["p99_ms"], r["max_ms"],
             f"{_f(r['generator_cpu_s'], 2)} ({_f(r['generator_cpu_pct'])}%)",
             _f(r.get("query_cpu_ms_per_push"), 3), str(r["load_average"][0])]
            for r in f.values()
        ],
    )  # fmt: skip


def tracing_markdown(t: dict[str, Any]) -> list[str]:
    """The tracing phase: each mode's figures, then what it adds per mutation over `off`."""
    labels = {
        "off": "off (the default)",
        "pass_through": "off, requests carrying a traceparent",
        "on": "on: OTLP export, every trace sampled",
        "off_again": "off again (restarted)",
    }
    out = [f"## Tracing's cost (write mix, concurrency {t['concurrency']})", ""]
    out += _table(
        ["tracing", "rps", "p50 ms", "p99 ms", "failed", "CPU ms/mutation command / projector"],
        [
            [
                labels.get(name, name),
                m["rps"],
                m["p50_ms"],
                m["p99_ms"],
                m["failed"],
                f"{_f(m['command_cpu_ms_per_mutation'], 3)} / "
                f"{_f(m['projector_cpu_ms_per_mutation'], 3)}",
            ]
            for name, m in t["modes"].items()
        ],
    )
    out += _table(
        ["over the off runs' mean", "CPU ms/mutation added (command + projector)", "throughput"],
        [
            [
                labels.get(name, name),
                f"{cost['total_cpu_ms']:+.3f} ({cost['command_cpu_ms']:+.3f} "
                f"{cost['projector_cpu_ms']:+.3f})",
                f"x{_f(cost['rps_ratio'], 2)}",
            ]
            for name, cost in t["added"].items()
        ],
    )
    if "noise" in t:
        out += [
            f"The two off runs differ by {t['noise']['command_cpu_ms']:.3f} ms (command) and "
            f"{t['noise']['projector_cpu_ms']:.3f} ms (projector) of CPU per mutation: a smaller "
            "cost was not measured.",
            "",
        ]
    if "spans_per_mutation" in t["modes"].get("on", {}):
        out += [f"Spans exported per mutation: {t['modes']['on']['spans_per_mutation']}.", ""]
    return out


def write_markdown(results: dict[str, Any], directory: Path, run_id: str) -> Path:
    path = directory / "summary.md"
    path.write_text(markdown(results))
    shutil.copyfile(path, directory / f"{run_id}.md")
    return path
