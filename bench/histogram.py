"""Latency recording in an HDR histogram (microseconds, 3 significant digits)."""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

PERCENTILES = (50, 75, 90, 95, 99, 99.9, 100)


class Latencies:
    def __init__(self) -> None:
        self._h = HdrHistogram(1, 120_000_000, 3)

    def record(self, seconds: float) -> None:
        self._h.record_value(max(1, round(seconds * 1e6)))

    @property
    def count(self) -> int:
        return int(self._h.get_total_count())

    def ms(self, percentile: float) -> float:
        return float(self._h.get_value_at_percentile(percentile)) / 1000

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean_ms": round(float(self._h.get_mean_value()) / 1000, 3),
            "p50_ms": round(self.ms(50), 3),
            "p99_ms": round(self.ms(99), 3),
            "percentiles_ms": [[p, round(self.ms(p), 3)] for p in PERCENTILES],
        }
