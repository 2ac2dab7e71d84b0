"""Private Kafka and MongoDB servers for tests that stop and restart them.

The shared test infrastructure serves every other test at once, so a test that takes a server
down needs one of its own: the native recipe of infra/native, run with its own state folder and
free ports. The downloaded Kafka jars and mongod binary are shared with the test infrastructure
(.run/test/tools, created if missing), so only the first server of a fresh clone fetches them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from tests.support.infra import NATIVE, ROOT, TEST_ENV
from tests.support.services import free_port

TOOLS = Path(TEST_ENV["RUN_DIR"]) / "tools"


class NativeServer:
    """One infra/native script's server with a private state folder, started and stopped at will."""

    script = ""

    def __init__(self, env: dict[str, str]) -> None:
        self.run_dir = (
            ROOT / ".run" / f"test-{self.script.removesuffix('.sh')}-{uuid.uuid4().hex[:8]}"
        )
        self.run_dir.mkdir(parents=True)
        TOOLS.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "tools").symlink_to(TOOLS)
        self.env = {**os.environ, "PYTHON": TEST_ENV["PYTHON"], **env, "RUN_DIR": str(self.run_dir)}

    def _run(self, action: str) -> float:
        """Seconds the script took; its output in the error if it failed."""
        started = time.monotonic()
        done = subprocess.run(
            [NATIVE / self.script, action], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{self.script} {action} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return time.monotonic() - started

    def start(self) -> float:
        return self._run("start")

    def stop(self) -> float:
        """A clean stop (SIGTERM, then SIGKILL after 30 s), as an operator's restart does."""
        return self._run("stop")

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.run_dir, ignore_errors=True)


class PrivateKafka(NativeServer):
    script = "kafka.sh"

    def __init__(self, topic: str) -> None:
        self.port = free_port()
        super().__init__(
            {
                "KAFKA_PORT": str(self.port),
                "KAFKA_CONTROLLER_PORT": str(free_port()),
                "EVENTS_TOPIC": topic,
            }
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


class PrivateMongo(NativeServer):
    script = "mongo.sh"

    def __init__(self) -> None:
        self.port = free_port()
        super().__init__({"MONGO_PORT": str(self.port)})

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?replicaSet=rs0"
