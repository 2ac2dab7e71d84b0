"""What the figures were measured on: hardware, OS, versions, and how busy the machine was.

Load averages at the start and end say how much else was running: the machines are shared, which
is why every figure comes with a baseline from the same run.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench.config import ROOT, Config

LIBRARIES = ("aiokafka", "pymongo", "ariadne", "graphql-core", "fastapi", "uvicorn", "pydantic")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)
    return 0.0


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _command(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if done.stdout or done.stderr else ""
    )


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe(config: Config) -> dict[str, Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(
        config.mongodb_url, serverSelectionTimeoutMS=5000
    )
    with client:
        mongo_version = client.server_info()["version"]
    commit = _command("git", "rev-parse", "--short", "HEAD")
    dirty = bool(_command("git", "status", "--porcelain", "--untracked-files=no"))
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kafka": _command(str(ROOT / "infra" / "native" / "kafka.sh"), "version"),
        "mongodb": mongo_version,
        "wrk": _command("wrk", "-v").split(" Copyright")[0],
        "libraries": {name: metadata.version(name) for name in LIBRARIES},
        "git": f"{commit}{' (uncommitted changes)' if dirty else ''}",
        "load_average_start": load_average(),
    }
