"""The benchmark's pure helpers: target checks, profile buckets, the markdown summary.

Benchmarks are not tests (`make bench` runs them); these only keep the harness's arithmetic
honest, with no infrastructure and none of the bench-only dependencies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import profile, report, targets, tracing_cost
from bench.wrk import WrkResult


def _results() -> dict[str, Any]:
    return {
        "run_id": "20260101T000000",
        "quick": True,
        "machine": {
            "cpu": "cpu",
            "cores": 2,
            "memory_gb": 4.0,
            "os": "os",
            "kernel": "k",
            "python": "3.11",
            "kafka": "Apache Kafka 3.9.1",
            "mongodb": "6.0.5",
            "wrk": "wrk",
            "git": "abc",
            "load_average_start": [1.0, 1.0, 1.0],
        },
        "write": {
            "concurrency": {
                "32": {
                    "rps": 700.0,
                    "p50_ms": 10.0,
                    "p95_ms": 20.0,
                    "p99_ms": 30.0,
                    "baseline_rps": 1000.0,
                    "baseline_p99_ms": 5.0,
                    "ratio": 0.7,
                    "ours": {"failed": 0},
                    "baseline": {"failed": 0},
                }
            }
        },
        "projection": {
            "events": 10,
            "events_per_s": 19_999.0,
            "ratio": 0.61,
            "ratio_vs_raw_insert": 0.79,
        },
        "e2e_lag": {"p99_ms": 50.0},
        "query": {
            "product_by_id": {"rps": 5000.0, "p99_ms": 30.0},
            "listing_shapes": {
                "category_price_range": {"rps": 1500.0, "p99_ms": 50.1},
                "tag_newest": {"rps": 1499.0, "p99_ms": 50.0},
            },
        },
        "fanout": {
            "1000": {
                "subscribers": 1000,
                "mutations": 20,
                "interval_s": 0.5,
                "pushes_expected": 20_000,
                "pushes_delivered": 19_999,
                "pushes_missing": 1,
                "p50_ms": 60.0,
                "p99_ms": 120.5,
                "max_ms": 130.0,
                "generator_cpu_s": 0.71,
                "generator_cpu_pct": 7.0,
                "query_cpu_ms_per_push": 0.075,
                "load_average": [2.5, 2.0, 1.9],
            }
        },
        "write_side_startup": {
            "products": 100_000,
            "short": {"events": 200_000, "migrate_s": 11.0, "ready_s": 2.5, "rss_mb": 150.0},
            "long": {"events": 1_000_000, "migrate_s": 50.0, "ready_s": 3.5, "rss_mb": 160.0},
            "empty_process": {"migrate_s": 1.0, "ready_s": 1.0, "rss_mb": 80.0},
            "ready_s": 3.5,
            "long_over_short": 1.4,
            "rss_kb_per_product": 0.819,
            "takeover_s": 7.0,
            "throughput": {
                "one": {"instances": 1, "rps": 800.0, "p99_ms": 90.0, "cpu_ms_per_mutation": 1.1},
                "two": {"instances": 2, "rps": 700.0, "p99_ms": 99.0, "cpu_ms_per_mutation": 1.9},
            },
        },
    }


def test_targets_compare_each_figure_with_its_goal() -> None:
    verdicts = {row["target"]: row["met"] for row in targets.check(_results())}
    assert verdicts == {
        "write path at concurrency 32 / baseline": True,
        "write path at concurrency 32 / the Node.js peer": None,
        "write p99 at concurrency 32 / the Node.js peer's": None,
        "projection events/s": False,
        "projection / raw bulk upserts": True,
        "rebuild / the thinnest bulk load": False,
        "end-to-end lag p99 at 200 mutations/s": True,
        "product(id) requests/s at concurrency 32": True,
        "products category_price_range requests/s at concurrency 32": True,
        "products tag_newest requests/s at concurrency 32": False,
        "products all_recently_updated requests/s at concurrency 32": None,
        "products category_price_range p99 at concurrency 32": False,
        "products tag_newest p99 at concurrency 32": True,
        "products all_recently_updated p99 at concurrency 32": None,
        "product(id) p99 at concurrency 32": False,
        "fan-out 1,000 subscribers p99": True,
        "fan-out 1,000 subscribers: pushes missing": False,
        "command instance ready after start (100,000 products)": False,
        "ready time, long log / short log": False,
        "command instance memory per product": True,
        "partition takeover after SIGKILL": True,
    }


def test_the_summary_compares_with_the_peer_and_reports_the_projected_run() -> None:
    results = _results()
    results["write"]["concurrency"]["32"].update(
        peer_rps=500.0, peer_p99_ms=40.0, peer_ratio=1.4, peer_p99_ratio=0.75, peer={"failed": 0}
    )
    results["write"]["projected"] = {
        "concurrency": 32,
        "rps": 650.5,
        "p99_ms": 80.25,
        "projector_cpu_ms_per_request": 0.41,
    }
    verdicts = {row["target"]: row["met"] for row in targets.check(results)}
    assert verdicts["write path at concurrency 32 / the Node.js peer"] is False
    assert verdicts["write p99 at concurrency 32 / the Node.js peer's"] is True
    for section in ("projection", "e2e_lag", "query"):
        del results[section]
    text = report.markdown(results)
    assert "| 32 | 500.0 | 40.0 | 1.40 | 0.75 | 0 |" in text
    assert "at concurrency 32: 650.5 rps, p99 80.2 ms, the projector's CPU 0.41 ms" in text


def test_a_missing_figure_is_not_measured_rather_than_met() -> None:
    results = _results()
    del results["e2e_lag"]
    rows = {row["target"]: row for row in targets.check(results)}
    assert rows["end-to-end lag p99 at 200 mutations/s"]["met"] is None


def test_the_summary_says_which_targets_were_missed_or_not_measured() -> None:
    results = _results()
    results["write"]["concurrency"]["32"]["ratio"] = 0.5
    for section in ("projection", "e2e_lag", "query"):
        del results[section]
    text = report.markdown(results)
    assert "| write path at concurrency 32 / baseline | >= 0.7 x | 0.50 | **missed** |" in text
    assert "| long | 1,000,000 | 50.0 | 3.5 | 160.0 |" in text
    assert "| projection events/s | >= 20000 events/s | - | not measured |" in text
    assert "| 32 | 700.0 | 10.0 | 20.0 | 30.0 | 1,000.0 | 5.0 | 0.50 | 0 |" in text
    assert "| 1,000 | 19,999 / 20,000 | 60.0 | 120.5 | 130.0 | 0.71 (7.0%) | 0.075 | 2.5 |" in text


def test_profile_samples_go_to_the_innermost_known_layer(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "main (x.py:1);handle (starlette/routing.py:1);loads (json/decoder.py:1) 3\n"
        "main (x.py:1);execute (graphql/execution/execute.py:1) 1\n"
    )
    summary = profile.summarize(raw)
    assert summary["samples"] == 4
    assert summary["layers_pct"] == {"json": 75.0, "graphql (ariadne, graphql-core)": 25.0}


def test_wrk_percentiles_round_up_to_the_next_recorded_one() -> None:
    result = WrkResult(
        connections=1, requests=110, seconds=10.0, failed=10, socket_errors={},
        percentiles_ms=[(50.0, 1.0), (99.0, 9.0), (100.0, 20.0)], mean_ms=2.0, failure_sample="",
    )  # fmt: skip
    assert result.rps == 10.0  # failed requests do not count
    assert result.pct(95) == 9.0


def test_tracings_cost_is_each_modes_cpu_per_mutation_over_off_and_is_reported() -> None:
    def mode(rps: float, command: float, projector: float) -> dict[str, Any]:
        return {
            "rps": rps,
            "p50_ms": 10.0,
            "p99_ms": 30.0,
            "failed": 0,
            "command_cpu_ms_per_mutation": command,
            "projector_cpu_ms_per_mutation": projector,
        }

    modes = {
        "off": mode(1000.0, 0.78, 0.21),
        "pass_through": mode(990.0, 0.81, 0.2),
        "on": {**mode(800.0, 1.0, 0.35), "spans_per_mutation": 4.1},
        "off_again": mode(1000.0, 0.82, 0.19),
    }
    added = tracing_cost.costs(modes)
    assert added == {
        "pass_through": {
            "command_cpu_ms": 0.01,
            "projector_cpu_ms": 0.0,
            "total_cpu_ms": 0.01,
            "rps_ratio": 0.99,
        },
        "on": {
            "command_cpu_ms": 0.2,
            "projector_cpu_ms": 0.15,
            "total_cpu_ms": 0.35,
            "rps_ratio": 0.8,
        },
    }
    apart = tracing_cost.noise(modes)
    assert apart == {"command_cpu_ms": 0.04, "projector_cpu_ms": 0.02}
    tracing = {"concurrency": 32, "modes": modes, "added": added, "noise": apart}
    results = {**_results(), "tracing": tracing}
    for section in ("projection", "e2e_lag", "query"):
        del results[section]
    text = report.markdown(results)
    assert (
        "| on: OTLP export, every trace sampled | 800.0 | 10.0 | 30.0 | 0 | 1.000 / 0.350 |" in text
    )
    assert "| on: OTLP export, every trace sampled | +0.350 (+0.200 +0.150) | x0.80 |" in text
    assert "The two off runs differ by 0.040 ms (command) and 0.020 ms (projector)" in text
    assert "Spans exported per mutation: 4.1." in text


def test_the_summary_lists_the_listing_shapes() -> None:
    results = _results()
    del results["projection"], results["e2e_lag"]
    results["query"] = {
        "concurrency": 32,
        "products": 100_000,
        "listing_shapes": {
            "tag_newest": {
                "rps": 512.5,
                "p50_ms": 60.0,
                "p99_ms": 99.5,
                "server_cpu_ms_per_request": 1.75,
                "ours": {"failed": 0},
            }
        },
    }
    assert "| tag_newest | 512.5 | 60.0 | 99.5 | 0 | 1.8 |" in report.markdown(results)


def test_the_summary_reports_where_the_lag_runs_cpu_went() -> None:
    results = _results()
    del results["projection"], results["query"]
    results["e2e_lag"] = {
        "rate": 200.0,
        "achieved_rate": 200.0,
        "p50_ms": 20.0,
        "p99_ms": 120.0,
        "baseline_p50_ms": 2.0,
        "baseline_p99_ms": 6.0,
        "ours": {
            "errors": 0,
            "consistency_timeouts": 0,
            "cpu": {
                "ms_per_mutation": {"kafka": 2.07, "command": 2.1, "load_generator": 0.6},
                "cores_busy": 1.85,
                "cores": 2,
            },
        },
        "half_rate": {
            "rate": 100.0,
            "p50_ms": 8.312,
            "p99_ms": 28.463,
            "ours": {"cpu": {"cores_busy": 1.44}},
        },
        "transaction_cost": {
            "transaction": {"client_cpu_ms": 0.8, "broker_cpu_ms": 2.0, "ms": 6.5},
            "produce": {"client_cpu_ms": 0.16, "broker_cpu_ms": None, "ms": 0.33},
        },
    }
    text = report.markdown(results)
    assert "| 200.0 | 200.0 | 20.0 | 120.0 | 2.0 | 6.0 | 0 / 0 |" in text
    assert (
        "CPU per mutation (ms): kafka 2.07, command 2.10, load_generator 0.60; 1.85 of 2 cores "
        "busy during the run." in text
    )
    assert "At half the rate (100/s): p50 8.3 ms, p99 28.5 ms, 1.44 cores busy." in text
    assert (
        "time: 6.50 ms, aiokafka's CPU 0.80 ms, the broker's 2.00 ms; one idempotent produce "
        "of the event: 0.33 ms, 0.16 ms, - ms." in text
    )
