"""The stack's own PostgreSQL cluster, for real: initialised, started twice, its database made
once, reachable on its port, stopped. Needs Debian's server binaries (the bootstrap installs them)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from local import postgresql

BINDIR = postgresql.find_bindir({})
pytestmark = pytest.mark.skipif(
    BINDIR is None, reason="no PostgreSQL server binaries (apt-get install postgresql)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_cluster_starts_idempotently_serves_its_database_and_stops(tmp_path: Path) -> None:
    assert BINDIR is not None
    cluster = postgresql.Cluster(
        bindir=BINDIR, data=postgresql.data_directory(tmp_path / "postgresql-data"), port=free_port()
    )
    try:
        postgresql.start(cluster)
        pid = postgresql.running_pid(cluster)
        assert pid is not None
        postgresql.start(cluster)  # already running, database already there: nothing fails
        assert postgresql.running_pid(cluster) == pid
        query = [
            str(BINDIR / "psql"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-tAc",
            "SELECT datname FROM pg_database WHERE datname = 'ferretdb'",
        ]  # fmt: skip
        done = subprocess.run(postgresql.as_server_user(query), capture_output=True, text=True, check=True)
        assert done.stdout.strip() == "ferretdb"
        assert "synchronous_commit = off" in (cluster.data / "postgresql.conf").read_text()
    finally:
        stopped = postgresql.stop(cluster)
        subprocess.run(postgresql.as_server_user(["rm", "-rf", str(cluster.data)]), check=False)
        shutil.rmtree(cluster.data, ignore_errors=True)  # its (emptied) directory, in a root-owned parent
    assert stopped
    assert postgresql.running_pid(cluster) is None
    assert not postgresql.stop(cluster)
