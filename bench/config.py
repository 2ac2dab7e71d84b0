"""What one benchmark run does and where: sizes, durations, ports, and the names it writes to.

Everything the bench writes a lot of goes to its own topics (`catalog-bench.<run>.*`) and
databases (`catalog_bench*`), never to the `make up` stack's `product-events` or `catalog`, and
is deleted at the end (BENCH_KEEP=1 keeps it for a look). BENCH_QUICK=1 makes every phase
smaller so the whole run takes a few minutes; the measurements are the same.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from shared.adapters.auth import issue

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
TOPIC_PREFIX = "catalog-bench."
DB_PREFIX = "catalog_bench"
# The bench's service instances verify tokens signed with a secret of this run; every request
# the bench sends to them (and, for fairness, to the baseline) carries TOKEN.
JWT_SECRET = secrets.token_urlsafe(48)


def token() -> str:
    return issue(JWT_SECRET, "bench", 86_400)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Config:
    quick: bool
    run_id: str
    kafka: str
    mongodb_url: str
    # phase sizes
    concurrencies: tuple[int, ...] = (1, 8, 32, 64)
    write_seconds: float = 15.0
    warmup_seconds: float = 3.0
    projection_events: int = 200_000  # half creates, half updates: events / 2 products
    replay_batch: int = 2000  # what `make rebuild` uses
    lag_rate: float = 200.0
    lag_seconds: float = 60.0
    query_concurrency: int = 32
    query_seconds: float = 15.0
    fanout_subscribers: tuple[int, ...] = (200, 1000)
    fanout_mutations: int = 20
    fanout_interval_s: float = 0.5
    keep: bool = False
    profile: bool = False  # BENCH_PROFILE=1: a last phase samples each service with py-spy
    query_workers: int = 1  # BENCH_QUERY_WORKERS: the bench's query service's QUERY_WORKERS
    # ports of the bench's own service instances and of the baseline app
    ports: dict[str, int] = field(
        default_factory=lambda: {
            "command": 8101,
            "query": 8102,
            "projector": 8103,
            "baseline": 8110,
            "peer": 8111,
        }
    )

    @property
    def events_topic(self) -> str:
        """The bench stack's event log: the projection phase fills it with the catalog, then
        the bench's command service migrates it once (no changelog yet) and appends to it, and its
        projector goes on."""
        return f"{TOPIC_PREFIX}{self.run_id}.product-events"

    @property
    def projector_group(self) -> str:
        return f"catalog-bench-projector-{self.run_id}"

    @property
    def baseline_topic(self) -> str:
        return f"{TOPIC_PREFIX}{self.run_id}.baseline"

    @property
    def peer_topic(self) -> str:
        """Where the Node.js peer (bench/peer.py) appends: never the bench stack's own log."""
        return f"{TOPIC_PREFIX}{self.run_id}.peer"

    @property
    def lag_topic(self) -> str:
        return f"{TOPIC_PREFIX}{self.run_id}.lag"

    @property
    def database(self) -> str:
        """The bench stack's read models; the projection phase replays into it."""
        return DB_PREFIX

    @property
    def raw_database(self) -> str:
        return f"{DB_PREFIX}_raw"

    @property
    def run_dir(self) -> Path:
        """Pids and logs of the bench's service instances (infra/native/services.sh RUN_DIR)."""
        return ROOT / ".run" / "bench"

    def url(self, service: str, path: str = "/graphql") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"


def load() -> Config:
    """The run's configuration from the environment (BENCH_QUICK, BENCH_KEEP, the stack's URLs)."""
    config = Config(
        quick=_flag("BENCH_QUICK"),
        run_id=time.strftime("%Y%m%dT%H%M%S"),
        kafka=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        mongodb_url=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/?replicaSet=rs0"),
        keep=_flag("BENCH_KEEP"),
        profile=_flag("BENCH_PROFILE"),
        query_workers=int(os.environ.get("BENCH_QUERY_WORKERS", "1")),
    )
    if not config.quick:
        return config
    return replace(
        config,
        write_seconds=5.0,
        warmup_seconds=1.5,
        projection_events=20_000,
        lag_seconds=15.0,
        query_seconds=5.0,
    )
