"""Write path: createProduct/updateProduct through the command service's GraphQL endpoint at
each concurrency, next to the baseline app's bare produce-one-record endpoint and the seed's own
JavaScript stack (bench/peer.py). Half the requests
create products, half update the price of a random product of the catalog.

For each concurrency the baseline and ours run back to back, each after a short warm-up that
is not counted, with the same wrk script sending the same request bodies; ratio = our rps /
baseline rps. Closed loop: every connection sends its next request when it has the answer.

`run` measures the write path alone: the caller stops the bench's projector first. Nothing
consumes the baseline's or the peer's topic, while our projector (and MongoDB under it) would
project each of our writes on the same two cores while they are measured; the events wait in
the log and are projected afterwards. What the whole stack does while it projects as it goes
is `projected`, once, at concurrency 32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import stack, wrk
from bench.config import Config


def _measure(config: Config, url: str, connections: int, ids: Path, pid: int) -> wrk.WrkResult:
    env = {"BENCH_IDS": str(ids)}
    wrk.run(url, "write.lua", connections, config.warmup_seconds, env)
    return wrk.run(url, "write.lua", connections, config.write_seconds, env, server_pid=pid)


def run(config: Config, ids: Path, pids: dict[str, int], log: Any = print) -> dict[str, Any]:
    """`pids`: of the command service, the baseline app and the Node.js peer (when it runs),
    for their CPU per request."""
    concurrency: dict[str, Any] = {}
    for c in config.concurrencies:
        base = _measure(config, config.url("baseline", "/write"), c, ids, pids["baseline"])
        peer = None
        if "peer" in pids:
            peer = _measure(config, config.url("peer", "/"), c, ids, pids["peer"])
        ours = _measure(config, config.url("command"), c, ids, pids["command"])
        ratio = ours.rps / base.rps if base.rps else 0.0
        concurrency[str(c)] = {
            "rps": round(ours.rps, 1),
            "p50_ms": round(ours.pct(50), 2),
            "p95_ms": round(ours.pct(95), 2),
            "p99_ms": round(ours.pct(99), 2),
            "baseline_rps": round(base.rps, 1),
            "baseline_p50_ms": round(base.pct(50), 2),
            "baseline_p99_ms": round(base.pct(99), 2),
            "ratio": round(ratio, 3),
            "ours": ours.summary(),
            "baseline": base.summary(),
        }
        if peer is not None:
            concurrency[str(c)].update(
                peer_rps=round(peer.rps, 1),
                peer_p50_ms=round(peer.pct(50), 2),
                peer_p99_ms=round(peer.pct(99), 2),
                peer_ratio=round(ours.rps / peer.rps, 3) if peer.rps else 0.0,
                peer_p99_ratio=round(ours.pct(99) / peer.pct(99), 3) if peer.pct(99) else 0.0,
                peer=peer.summary(),
            )
        if ours.failed:
            concurrency[str(c)]["failure_sample"] = ours.failure_sample
        log(
            f"  c={c:<3} ours {ours.rps:8.1f} rps p99 {ours.pct(99):7.1f} ms | baseline "
            f"{base.rps:8.1f} rps p99 {base.pct(99):7.1f} ms | ratio {ratio:.2f} | CPU/request "
            f"{ours.cpu().get('server_cpu_ms_per_request', 0):.2f} vs "
            f"{base.cpu().get('server_cpu_ms_per_request', 0):.2f} ms"
            + (f" | {ours.failed} failed" if ours.failed else "")
            + (
                f" | node peer {peer.rps:8.1f} rps p99 {peer.pct(99):7.1f} ms, ours/peer "
                f"{ours.rps / peer.rps if peer.rps else 0:.2f}"
                if peer
                else ""
            )
        )
    return {
        "mix": "1:1 createProduct / updateProduct (price of a random product)",
        "concurrency": concurrency,
    }


def projected(
    config: Config, ids: Path, pids: dict[str, int], connections: int = 32
) -> dict[str, Any]:
    """Ours at `connections` with the projector running and projecting every write as it goes:
    the command service's and the projector's CPU per mutation."""
    url, env = config.url("command"), {"BENCH_IDS": str(ids)}
    wrk.run(url, "write.lua", connections, config.warmup_seconds, env)
    projector_before = stack.cpu_seconds(pids["projector"])
    ours = wrk.run(
        url, "write.lua", connections, config.write_seconds, env, server_pid=pids["command"]
    )
    projector_s = stack.cpu_seconds(pids["projector"]) - projector_before
    return {
        "concurrency": connections,
        "rps": round(ours.rps, 1),
        "p99_ms": round(ours.pct(99), 2),
        "projector_cpu_ms_per_request": round(1000 * projector_s / max(1, ours.requests), 3),
        "ours": ours.summary(),
    }
