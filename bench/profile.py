"""Where a process's CPU time goes, from py-spy samples, in a few buckets a reader can act on.

`py-spy record --format raw` writes one line per distinct stack with its sample count. Each
sample is charged to the innermost frame that belongs to a known layer (GraphQL, HTTP server,
Kafka client, MongoDB driver, domain models, …), so a JSON decode called by Starlette counts as
JSON and a pydantic validation called by a resolver counts as domain. Used by BENCH_PROFILE=1
(bench/run.py) and by hand: `python -m bench.profile out.txt`.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.config import ROOT

# (bucket, substrings of a frame's file path), innermost match wins; order breaks ties.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("json", ("json/", "orjson")),
    ("logging and metrics", ("logging/", "prometheus_client/", "pythonjsonlogger/")),
    (
        "domain models (pydantic)",
        ("pydantic/", "pydantic_core", "shared/domain/", "shared/envelope"),
    ),
    ("graphql (ariadne, graphql-core)", ("graphql/", "ariadne/")),
    ("kafka client (aiokafka)", ("aiokafka/", "kafka/")),
    ("mongodb driver (pymongo)", ("pymongo/", "bson/")),
    (
        "http server (uvicorn, starlette, fastapi)",
        ("uvicorn/", "starlette/", "fastapi/", "asgi_correlation_id/", "httptools", "h11/"),
    ),
    ("projector", ("services/projector/",)),
    ("query service", ("services/query/",)),
    ("command service", ("services/command/",)),
    ("asyncio event loop", ("asyncio/", "uvloop")),
)


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in LAYERS:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def summarize(raw: Path, top: int = 15) -> dict[str, Any]:
    """Share of samples per layer and the functions with the most samples of their own."""
    buckets: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        buckets[_bucket(frames)] += n
        own[frames[-1].strip()] += n
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "layers_pct": {k: round(100 * v / total, 1) for k, v in buckets.most_common()},
        "top_self_pct": {k: round(100 * v / total, 1) for k, v in own.most_common(top)},
    }


def record(pid: int, seconds: float, out: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Start py-spy sampling `pid` for `seconds` into `out` (raw format); wait on the handle."""
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [str(py_spy), "record", "--pid", str(pid), "--duration", str(round(seconds)),
               "--rate", str(rate), "--format", "raw", "--nonblocking", "--output", str(out)]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def markdown(name: str, summary: dict[str, Any]) -> list[str]:
    if not summary.get("samples"):
        return [f"- {name}: no samples", ""]
    layers = ", ".join(f"{k} {v}%" for k, v in summary["layers_pct"].items())
    top = "; ".join(f"`{k}` {v}%" for k, v in list(summary["top_self_pct"].items())[:6])
    return [
        f"- **{name}** ({summary['samples']} samples): {layers}.",
        f"  Hottest own time: {top}.",
        "",
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(summarize(Path(sys.argv[1])), indent=2))
