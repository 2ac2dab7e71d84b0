"""The bench's targets, checked against a run's results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    name: str
    path: tuple[str, ...]  # where the measured value is in latest.json
    op: str  # ">=" or "<="
    goal: float
    unit: str

    def value(self, results: dict[str, Any]) -> float | None:
        node: Any = results
        for key in self.path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return float(node)

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.goal if self.op == ">=" else value <= self.goal


TARGETS = (
    Target(
        "write path at concurrency 32 / baseline",
        ("write", "concurrency", "32", "ratio"),
        ">=",
        0.7,
        "x",
    ),
    Target(
        "write path at concurrency 32 / the Node.js peer",
        ("write", "concurrency", "32", "peer_ratio"),
        ">=",
        1.5,
        "x",
    ),
    Target(
        "write p99 at concurrency 32 / the Node.js peer's",
        ("write", "concurrency", "32", "peer_p99_ratio"),
        "<=",
        1.0,
        "x",
    ),
    Target("projection events/s", ("projection", "events_per_s"), ">=", 20_000, "events/s"),
    Target("projection / raw bulk upserts", ("projection", "ratio"), ">=", 0.6, "x"),
    Target(
        "rebuild / the thinnest bulk load",
        ("projection", "ratio_vs_raw_insert"),
        ">=",
        0.8,
        "x",
    ),
    Target("end-to-end lag p99 at 200 mutations/s", ("e2e_lag", "p99_ms"), "<=", 50, "ms"),
    Target(
        "product(id) requests/s at concurrency 32",
        ("query", "product_by_id", "rps"),
        ">=",
        5000,
        "req/s",
    ),
    *(
        Target(
            f"products {shape} {label} at concurrency 32",
            ("query", "listing_shapes", shape, figure),
            op,
            goal,
            unit,
        )
        for figure, label, op, goal, unit in (
            ("rps", "requests/s", ">=", 1500, "req/s"),
            ("p99_ms", "p99", "<=", 50, "ms"),
        )
        for shape in ("category_price_range", "tag_newest", "all_recently_updated")
    ),
    Target(
        "product(id) p99 at concurrency 32", ("query", "product_by_id", "p99_ms"), "<=", 25, "ms"
    ),
    Target("fan-out 1,000 subscribers p99", ("fanout", "1000", "p99_ms"), "<=", 250, "ms"),
    Target(
        "fan-out 1,000 subscribers: pushes missing",
        ("fanout", "1000", "pushes_missing"),
        "<=",
        0,
        "pushes",
    ),
    Target(
        "command instance ready after start (100,000 products)",
        ("write_side_startup", "ready_s"),
        "<=",
        3,
        "s",
    ),
    Target(
        "ready time, long log / short log",
        ("write_side_startup", "long_over_short"),
        "<=",
        1.2,
        "x",
    ),
    Target(
        "command instance memory per product",
        ("write_side_startup", "rss_kb_per_product"),
        "<=",
        1,
        "KB",
    ),
    Target("partition takeover after SIGKILL", ("write_side_startup", "takeover_s"), "<=", 10, "s"),
)


def check(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for target in TARGETS:
        value = target.value(results)
        rows.append(
            {
                "target": target.name,
                "goal": f"{target.op} {target.goal:g} {target.unit}",
                "value": value,
                "met": target.met(value),
            }
        )
    return rows
