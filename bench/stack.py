"""The bench's own instances of the three services, the baseline app, and their memory.

The services are started exactly as `make up` starts them — infra/native/services.sh, the same
interpreter, code and settings — beside the running stack, on the same Kafka and MongoDB, but
with their own ports, topic, database, consumer group and transactional id. So the bench loads
the real thing without writing hundreds of thousands of events into the stack's own log (which
is kept forever) or read models, and everything it made can be deleted afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.config import JWT_SECRET, ROOT, Config

SERVICES = ("command", "projector", "query")


def service_env(config: Config, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The services' environment: the bench's own, without OpenTelemetry's variables (tracing is
    off in every phase but the one that measures it, whatever the caller's shell says)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "RUN_DIR": str(config.run_dir),
        "COMMAND_PORT": str(config.ports["command"]),
        "QUERY_PORT": str(config.ports["query"]),
        "PROJECTOR_PORT": str(config.ports["projector"]),
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka,
        "MONGODB_URL": config.mongodb_url,
        "EVENTS_TOPIC": config.events_topic,
        "MONGODB_DATABASE": config.database,
        "COMMAND_GROUP_ID": "catalog-bench-command",
        "PROJECTOR_GROUP_ID": config.projector_group,
        "PROJECTOR_INSTANCE_ID": "catalog-bench-projector-1",
        "JWT_SECRET": JWT_SECRET,
        # BENCH_QUERY_WORKERS: the query service's processes (QUERY_WORKERS; 1 by default).
        "QUERY_WORKERS": str(config.query_workers),
        **(extra or {}),
    }


def _services_sh(config: Config, action: str, extra: dict[str, str] | None = None) -> None:
    script = ROOT / "infra" / "native" / "services.sh"
    subprocess.run([str(script), action], env=service_env(config, extra), check=True, cwd=ROOT)


def start_services(config: Config, extra_env: dict[str, str] | None = None) -> None:
    """Start the bench's services, with `extra_env` set for them (the tracing phase's)."""
    _services_sh(config, "start", extra_env)


def stop_services(config: Config) -> None:
    _services_sh(config, "stop")


def stop_service(config: Config, name: str, grace_s: float = 30) -> None:
    """SIGTERM one of the bench's services and wait until it has exited (SIGKILL after
    `grace_s`); start_services starts it again, and only it."""
    path = config.run_dir / "pids" / f"{name}.pid"
    pid = int(path.read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def service_pids(config: Config) -> dict[str, int]:
    pids = {}
    for name in SERVICES:
        path = config.run_dir / "pids" / f"{name}.pid"
        if path.exists():
            pids[name] = int(path.read_text().strip())
    return pids


class Baseline:
    """The baseline app (bench/baseline_app.py) as a child process on its own port."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._process: subprocess.Popen[bytes] | None = None
        self.log = config.run_dir / "logs" / "baseline.log"

    def start(self) -> int:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        c = self._config
        command = [
            sys.executable,
            "-m",
            "bench.baseline_app",
            str(c.ports["baseline"]),
            c.baseline_topic,
            c.database,
        ]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=service_env(c)
            )
        wait_http(c.url("baseline", "/health"), 30, self._process)
        return self._process.pid

    def stop(self) -> None:
        stop_process(self._process)


def stop_process(process: subprocess.Popen[bytes] | None, grace_s: float = 15) -> None:
    """SIGTERM a child process the bench started, SIGKILL it if it is still there after `grace_s`."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_http(url: str, seconds: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{url}: the process exited ({process.returncode})") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (so field 3, the state, is [0])."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _children() -> dict[int, list[int]]:
    """Every live process's children, from one walk of /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(_stat(int(stat.parent.name))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    return children


def process_tree(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """A process and its live children (a query service's uvicorn workers, QUERY_WORKERS);
    `children` from `_children`, to walk /proc once for several processes."""
    return [pid, *(_children() if children is None else children).get(pid, [])]


def cpu_seconds(pid: int, children: dict[int, list[int]] | None = None) -> float:
    """CPU time (user + system) a process and its live children have used so far; `children`
    as for `process_tree`."""
    ticks = 0
    for member in process_tree(pid, children):
        try:
            fields = _stat(member)
        except OSError:  # a child that has just exited
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def infrastructure_pids() -> dict[str, int]:
    """Kafka's and MongoDB's processes when `make up` runs them natively (infra/native writes
    their pids to .run/pids); none when Docker runs them, whose CPU is then not reported."""
    pids = {}
    for name in ("kafka", "mongo"):
        try:
            pid = int((ROOT / ".run" / "pids" / f"{name}.pid").read_text().strip())
            _stat(pid)
        except (OSError, ValueError):
            continue
        pids[name] = pid
    return pids


def _machine_ticks() -> tuple[int, int]:
    """All CPUs' busy and total clock ticks so far (/proc/stat's first line; its last two
    fields, guest time, are counted in the first already)."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


class CpuWindow:
    """The CPU time each process used over a window, and how many of the machine's cores were
    busy meanwhile.

    Divided by the requests of the window, the first says where a phase's work went; the second
    says how near the machine was to saturation, where latency tails are queueing for a core
    rather than work.
    """

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = dict(pids)
        self._start = self._sample()

    def _sample(self) -> tuple[tuple[int, int], dict[str, float]]:
        children = _children()  # one walk of /proc, whatever the number watched
        cpu = {name: cpu_seconds(pid, children) for name, pid in self._pids.items()}
        return _machine_ticks(), cpu

    def close(self) -> dict[str, Any]:
        ((busy0, total0), cpu0), ((busy1, total1), cpu1) = self._start, self._sample()
        cores = os.cpu_count() or 1
        return {
            "cpu_s": {name: round(cpu1[name] - cpu0[name], 3) for name in self._pids},
            "cores_busy": round((busy1 - busy0) / ((total1 - total0) or 1) * cores, 2),
            "cores": cores,
        }


def _memory_kb(members: list[int]) -> dict[str, int]:
    """VmRSS and VmHWM (/proc/<pid>/status, kB), each summed over these processes."""
    totals: dict[str, int] = {}
    for member in members:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            field, _, value = line.partition(":")
            if field in ("VmRSS", "VmHWM"):
                totals[field] = totals.get(field, 0) + int(value.split()[0])
    return totals


class RssSampler:
    """Peak resident memory per process (with its workers: summed over them): the kernel's
    VmHWM, and VmRSS sampled twice a second.

    VmHWM is the high-water mark since the process started, which for the bench's own service
    instances is this run; the samples also show the peak of a process that already exited.
    """

    def __init__(self, every_s: float = 0.5) -> None:
        self._pids: dict[str, int] = {}
        self._peak_kb: dict[str, int] = {}
        self._hwm_kb: dict[str, int] = {}
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def watch(self, name: str, pid: int) -> None:
        self._pids[name] = pid

    def start(self) -> None:
        self._thread.start()

    def _sample(self) -> None:
        children = _children()  # one walk of /proc per sample, whatever the number watched
        for name, pid in list(self._pids.items()):
            memory = _memory_kb(process_tree(pid, children))
            if "VmRSS" in memory:
                self._peak_kb[name] = max(memory["VmRSS"], self._peak_kb.get(name, 0))
            if "VmHWM" in memory:
                self._hwm_kb[name] = max(memory["VmHWM"], self._hwm_kb.get(name, 0))

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            self._sample()

    def stop(self) -> dict[str, float]:
        """Peak RSS in MB per watched process (VmHWM, or the sampled peak when larger)."""
        self._sample()
        self._stop.set()
        names = set(self._hwm_kb) | set(self._peak_kb)
        return {
            n: round(max(self._hwm_kb.get(n, 0), self._peak_kb.get(n, 0)) / 1024, 1)
            for n in sorted(names)
        }
