"""PNG plots of a run: latency distributions (percentile curves, HDR style) and throughput
against concurrency, ours beside the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on the bench machines
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter

OURS, BASE = "tab:blue", "tab:gray"


def _x(percentile: float) -> float:
    """HDR-style x axis: 1 / (1 - p), so the tail gets room (capped at 99.999)."""
    return 1 / (1 - min(percentile, 99.999) / 100)


def _percentile_axes(ax: Axes) -> None:
    ax.set_xscale("log")
    ticks = [50, 90, 99, 99.9, 99.99]
    ax.xaxis.set_major_locator(FixedLocator([_x(p) for p in ticks]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 - 100 / v:g}"))
    ax.xaxis.set_minor_locator(FixedLocator([]))
    ax.set_xlabel("percentile")
    ax.set_yscale("log")  # ours and the baseline can be orders of magnitude apart
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(v)[0] in "25" else ""))
    ax.set_ylabel("latency (ms, log)")
    ax.grid(True, alpha=0.3)


def _curve(
    ax: Axes, percentiles: list[list[float]], label: str, color: str, style: str = "-"
) -> None:
    points = [(p, ms) for p, ms in percentiles if p < 100]
    ax.plot(
        [_x(p) for p, _ in points],
        [ms for _, ms in points],
        style,
        color=color,
        label=label,
        marker=".",
    )


def write_latency(results: dict[str, Any], path: Path) -> None:
    write = results["write"]["concurrency"]
    fig, axes = plt.subplots(1, len(write), figsize=(4 * len(write), 3.6), squeeze=False)
    for ax, (c, w) in zip(axes[0], write.items(), strict=True):
        _curve(ax, w["ours"]["percentiles_ms"], "ours (GraphQL)", OURS)
        _curve(ax, w["baseline"]["percentiles_ms"], "baseline", BASE, "--")
        _percentile_axes(ax)
        ax.set_title(f"write latency, concurrency {c}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_throughput(results: dict[str, Any], path: Path) -> None:
    write = results["write"]["concurrency"]
    cs = [int(c) for c in write]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(
        cs, [w["rps"] for w in write.values()], "o-", color=OURS, label="ours (GraphQL mutations)"
    )
    ax.plot(
        cs,
        [w["baseline_rps"] for w in write.values()],
        "s--",
        color=BASE,
        label="baseline (bare produce)",
    )
    for c, w in zip(cs, write.values(), strict=True):
        ax.annotate(
            f"{w['ratio']:.2f}x",
            (c, w["rps"]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(cs, [str(c) for c in cs])
    ax.set_xlabel("concurrency (connections)")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title("write throughput against concurrency (labels: ours / baseline)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def lag_and_queries(results: dict[str, Any], path: Path) -> None:
    panels = []
    if "e2e_lag" in results:
        e = results["e2e_lag"]
        panels.append(
            (
                f"end-to-end lag at {e['rate']:g} mutations/s",
                e["ours"]["lag"]["percentiles_ms"],
                e["baseline"]["lag"]["percentiles_ms"],
                "baseline (Kafka→MongoDB)",
            )
        )
    for name in ("product_by_id", "products_page"):
        if name in results.get("query", {}):
            q = results["query"][name]
            panels.append(
                (
                    f"{name} at concurrency {results['query']['concurrency']}",
                    q["ours"]["percentiles_ms"],
                    q["baseline"]["percentiles_ms"],
                    "baseline (bare find)",
                )
            )
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, (title, ours, base, base_label) in zip(axes[0], panels, strict=True):
        _curve(ax, ours, "ours", OURS)
        _curve(ax, base, base_label, BASE, "--")
        _percentile_axes(ax)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(results: dict[str, Any], directory: Path) -> list[Path]:
    paths = []
    if "write" in results:
        paths += [directory / "write_latency.png", directory / "write_throughput.png"]
        write_latency(results, paths[-2])
        write_throughput(results, paths[-1])
    if "e2e_lag" in results or "query" in results:
        paths.append(directory / "lag_and_queries.png")
        lag_and_queries(results, paths[-1])
    return paths
