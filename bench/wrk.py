"""Closed-loop HTTP load with wrk: N connections, each sending its next request on an answer.

wrk is a C program driving all connections from one or two threads, so it takes a few percent
of a core where a Python client would compete with the services for the two cores. Its latency
histogram records every request at microsecond resolution; the Lua scripts in bench/lua write
the percentiles and counts as JSON (common.lua's `done`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import token
from bench.stack import cpu_seconds

LUA_DIR = Path(__file__).resolve().parent / "lua"


class WrkMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    connections: int
    requests: int
    seconds: float
    failed: int  # non-200 or GraphQL errors
    socket_errors: dict[str, int]
    percentiles_ms: list[tuple[float, float]]  # (percentile, latency in ms)
    mean_ms: float
    failure_sample: str
    server_cpu_s: float | None = None  # CPU the serving process used meanwhile, if known

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.failed) / self.seconds if self.seconds else 0.0

    def pct(self, percentile: float) -> float:
        for p, ms in self.percentiles_ms:
            if p >= percentile:
                return ms
        return self.percentiles_ms[-1][1]

    def summary(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "requests": self.requests,
            "failed": self.failed,
            "socket_errors": self.socket_errors,
            "rps": round(self.rps, 1),
            "mean_ms": round(self.mean_ms, 3),
            "p50_ms": round(self.pct(50), 3),
            "p95_ms": round(self.pct(95), 3),
            "p99_ms": round(self.pct(99), 3),
            "percentiles_ms": [[p, round(ms, 3)] for p, ms in self.percentiles_ms],
            **self.cpu(),
        }

    def cpu(self) -> dict[str, float]:
        """The server's CPU per successful request and its average use in cores."""
        done = self.requests - self.failed
        if self.server_cpu_s is None or not done:
            return {}
        return {
            "server_cpu_ms_per_request": round(1000 * self.server_cpu_s / done, 3),
            "server_cores_used": round(self.server_cpu_s / self.seconds, 2),
        }


def check() -> str:
    """wrk's path, or WrkMissing saying how to get it."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk not found: `make bench` installs it (or: apt-get install wrk)")
    return path


def run(
    url: str,
    script: str,
    connections: int,
    seconds: float,
    env: dict[str, str] | None = None,
    timeout_s: int = 10,
    server_pid: int | None = None,
) -> WrkResult:
    """Drive `url` with bench/lua/`script` for `seconds` over `connections` connections.

    With `server_pid`, also the CPU time that process used during the run.
    """
    threads = min(connections, 2)
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        report = Path(tmp) / "report.json"
        process_env = {
            **os.environ,
            **(env or {}),
            "BENCH_LUA_DIR": str(LUA_DIR),
            "BENCH_TOKEN": token(),
            "BENCH_REPORT": str(report),
        }
        command = [
            check(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout_s}s",
            "-s",
            str(LUA_DIR / script),
            url,
        ]
        cpu_before = cpu_seconds(server_pid) if server_pid else None
        done = subprocess.run(command, env=process_env, capture_output=True, text=True)
        cpu = (
            cpu_seconds(server_pid) - cpu_before if server_pid and cpu_before is not None else None
        )
        if done.returncode != 0 or not report.exists():
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        data = json.loads(report.read_text())
    if data["requests"] - data["failed"] <= 0:
        raise RuntimeError(f"no successful request to {url}: {data}")
    latency = data["latency_us"]
    return WrkResult(
        connections=connections,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        failed=data["failed"],
        socket_errors=data["socket_errors"],
        percentiles_ms=[(float(p), us / 1000) for p, us in latency["percentiles"]],
        mean_ms=latency["mean"] / 1000,
        failure_sample=data["failure_sample"],
        server_cpu_s=cpu,
    )
