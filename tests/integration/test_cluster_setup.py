"""`make up STACK=cluster` on a wrong setup: one line naming what is wrong, nothing left running.

infra/native/cluster.sh checks every port and every Kafka node folder before it starts anything,
so the first two cases cost no server start. A folder holding a member of another MongoDB
replica set can only be told once its mongod runs: then every node this run started is stopped
again.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import NativeCluster
from tests.support.infra import NATIVE
from tests.support.private_infra import PrivateMongo


@pytest.fixture
def unstarted() -> Iterator[NativeCluster]:
    """A cluster's folder and free ports, not started."""
    cluster = NativeCluster()
    try:
        yield cluster
    finally:
        cluster.remove()


def start(cluster: NativeCluster) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NATIVE / "cluster.sh", "start"], env=cluster.env, capture_output=True, text=True
    )


def nothing_runs(cluster: NativeCluster) -> bool:
    return all(cluster.pid(kind, node) is None for kind in ("kafka", "mongo") for node in (1, 2, 3))


def test_a_taken_port_stops_it_in_one_line_naming_the_port(unstarted: NativeCluster) -> None:
    port = unstarted.mongo_ports[1]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = start(unstarted)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: port {port} (MongoDB member 2) is already in use by another process"
    ]
    assert nothing_runs(unstarted)


def test_a_node_folder_of_another_kafka_cluster_stops_it_in_one_line_naming_the_folder(
    unstarted: NativeCluster,
) -> None:
    data = unstarted.run_dir / "data" / "cluster"
    folder = data / "kafka-2"
    folder.mkdir(parents=True)
    (data / "kafka-cluster-id").write_text("ThisClusterIdAAAAAAAAAA\n")
    (folder / "meta.properties").write_text(
        "version=1\nnode.id=2\ncluster.id=OtherClusterIdBBBBBBBBBB\ndirectory.id=x\n"
    )
    done = start(unstarted)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {folder} holds node 2 of Kafka cluster OtherClusterIdBBBBBBBBBB, not node 2 of "
        "cluster ThisClusterIdAAAAAAAAAA: move it away or delete it (make clean deletes all data)"
    ]
    assert nothing_runs(unstarted)
    assert not Path(data / "kafka-1" / "meta.properties").exists()  # nothing was formatted


def test_a_member_of_another_replica_set_stops_it_and_what_it_started_is_stopped_again(
    unstarted: NativeCluster,
) -> None:
    """The one check that needs the servers up: the rollback must leave nothing running."""
    other = PrivateMongo()  # a single-node stack's data folder: replica set rs0 of one member
    try:
        other.start()
        other.stop()
        folder = unstarted.run_dir / "data" / "cluster" / "mongo-3"
        folder.parent.mkdir(parents=True)
        shutil.move(other.run_dir / "data" / "mongo", folder)
    finally:
        other.remove()
    done = start(unstarted)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {folder} holds a member of another MongoDB replica set (rs0: "
        f"127.0.0.1:{other.port}): move it away or delete it (make clean deletes all data)"
    ]
    assert "starting kafka-1" in done.stdout  # it had started the nodes, and stopped them again
    assert nothing_runs(unstarted)
