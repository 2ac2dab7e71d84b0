"""The bench's second write baseline: the seed's own JavaScript stack (bench/peers/node-graphql).

Apollo Server 4 on graphql-js with kafkajs (acks -1, idempotent producer, one record per
mutation, no transactions) and an in-memory id -> version map read from the catalog's topic at
start: the same mutations, schema, validation and tokens as ours, on the same Kafka, sent the
same wrk bodies. It appends to a topic of its own, so our log never sees its records.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request

import orjson

from bench.config import JWT_SECRET, ROOT, Config, token
from bench.stack import stop_process

PEER_DIR = ROOT / "bench" / "peers" / "node-graphql"


class NodePeer:
    def __init__(self, config: Config) -> None:
        self._config = config
        self._process: subprocess.Popen[bytes] | None = None
        self.log = config.run_dir / "logs" / "node-peer.log"

    def start(self) -> int:
        """Start it (after `npm ci`, which `make bench` runs) and wait until it answers."""
        c = self._config
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PORT": str(c.ports["peer"]),
            "KAFKA_BOOTSTRAP_SERVERS": c.kafka,
            "PEER_TOPIC": c.peer_topic,
            "CATALOG_TOPIC": c.events_topic,
            "JWT_SECRET": JWT_SECRET,
            "NODE_ENV": "production",
        }
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                ["node", "server.js"], cwd=PEER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 120
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the node peer exited; see {self.log}")
            try:
                if self._ping():
                    return self._process.pid
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the node peer did not answer within 120 s; see {self.log}")
            time.sleep(0.3)

    def _ping(self) -> bool:
        request = urllib.request.Request(
            self._config.url("peer", "/"),
            data=b'{"query":"{ ping }"}',
            headers={"content-type": "application/json", "authorization": f"Bearer {token()}"},
        )
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(orjson.loads(response.read()).get("data"))

    def stop(self) -> None:
        stop_process(self._process)
