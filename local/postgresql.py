"""The local PostgreSQL cluster that FerretDB's PostgreSQL backend stores its data in (stdlib only).

The cluster lives in ``.local/postgresql-data``, listens on 127.0.0.1 only (port
``CHRONOS_POSTGRESQL_PORT``, 25432) with trust authentication, and is run with Debian's server
binaries (``/usr/lib/postgresql/<version>/bin``, or ``CHRONOS_POSTGRESQL_BINDIR``); its log is
``server.log`` in the data directory. PostgreSQL
refuses to run as root, so as root every server command runs as the ``postgres`` user that
Debian's package creates. It is a throwaway development server: ``synchronous_commit`` is off
(a crash may lose the last few hundred milliseconds of commits, never consistency).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEBIAN_ROOT = Path("/usr/lib/postgresql")
DATABASE = "ferretdb"
SUPERUSER = "postgres"
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "synchronous_commit": "off",
    "max_connections": "200",
    "shared_buffers": "'256MB'",
    "log_min_messages": "warning",
}


class PostgresqlError(RuntimeError):
    """A cluster command failed; the message names the command and its output."""


@dataclass(frozen=True)
class Cluster:
    """Where the cluster's binaries and data are, and its port."""

    bindir: Path
    data: Path
    port: int

    @property
    def log_file(self) -> Path:
        """The server's log, inside its data directory (the server user writes it)."""
        return self.data / "server.log"

    @property
    def url(self) -> str:
        """FerretDB's ``--postgresql-url`` for this cluster's ``ferretdb`` database."""
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"


def find_bindir(env: Mapping[str, str], debian_root: Path = DEBIAN_ROOT) -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: ``CHRONOS_POSTGRESQL_BINDIR`` when set,
    else the newest Debian version, else the one on PATH; None when there is none."""
    explicit = env.get("CHRONOS_POSTGRESQL_BINDIR", "").strip()
    candidates: list[Path] = [Path(explicit)] if explicit else []
    if not explicit:
        versions = [p for p in debian_root.glob("*/bin") if p.parent.name.isdigit()]
        candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
        on_path = shutil.which("pg_ctl")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def port_from(env: Mapping[str, str]) -> int:
    raw = env.get("CHRONOS_POSTGRESQL_PORT", "").strip() or "25432"
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"CHRONOS_POSTGRESQL_PORT must be a TCP port, got {raw!r}")
    return int(raw)


def server_user_can_reach(path: Path) -> bool:
    """Whether the server user may traverse every directory above ``path`` (always, unless root
    runs the cluster as ``postgres`` from a private directory such as ``/root``)."""
    if os.geteuid() != 0:
        return True
    try:
        entry = pwd.getpwnam(SUPERUSER)
    except KeyError:
        return True  # as_server_user reports the missing user
    for ancestor in path.resolve().parents:
        if not ancestor.exists():
            continue  # created by us, with the default (traversable) mode
        mode = ancestor.stat()
        if mode.st_uid == entry.pw_uid:
            allowed = mode.st_mode & stat.S_IXUSR
        elif mode.st_gid == entry.pw_gid:
            allowed = mode.st_mode & stat.S_IXGRP
        else:
            allowed = mode.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def data_directory(preferred: Path) -> Path:
    """``preferred`` when the server user can reach it, else a directory of the same checkout
    under the ``postgres`` user's home (``~postgres/chronos/<hash of preferred>``)."""
    if server_user_can_reach(preferred):
        return preferred
    home = Path(pwd.getpwnam(SUPERUSER).pw_dir)
    return home / "chronos" / hashlib.sha256(str(preferred.resolve()).encode()).hexdigest()[:12]


def as_server_user(argv: Sequence[str]) -> list[str]:
    """``argv`` run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return list(argv)
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError as exc:
        raise PostgresqlError(
            "running as root needs the 'postgres' user (Debian's postgresql package)"
        ) from exc
    return ["runuser", "-u", SUPERUSER, "--", *argv]


def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(as_server_user(argv), capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise PostgresqlError(
            f"{' '.join(argv)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
        )
    return done


def _hand_to_server_user(*paths: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(SUPERUSER)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def configuration(cluster: Cluster) -> str:
    """The lines appended to ``postgresql.conf`` at initialisation."""
    settings = {**SETTINGS, "port": str(cluster.port), "unix_socket_directories": f"'{cluster.data}'"}
    return "\n# Chronos local stack\n" + "".join(f"{key} = {value}\n" for key, value in settings.items())


def initialise(cluster: Cluster) -> bool:
    """Create the cluster when ``data`` holds none; True if it was created."""
    if (cluster.data / "PG_VERSION").exists():
        return False
    cluster.data.mkdir(parents=True, exist_ok=True)
    cluster.data.chmod(0o700)
    _hand_to_server_user(cluster.data)
    _run(
        [
            str(cluster.bindir / "initdb"),
            "-D",
            str(cluster.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ]
    )
    conf = cluster.data / "postgresql.conf"
    conf.write_text(conf.read_text() + configuration(cluster))
    return True


def running_pid(cluster: Cluster) -> int | None:
    """The postmaster's PID when the cluster runs (``postmaster.pid``'s first line, alive)."""
    try:
        pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError, PermissionError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def start(cluster: Cluster) -> None:
    """Initialise and start the cluster (idempotent), then make sure its database exists."""
    initialise(cluster)
    if running_pid(cluster) is None:
        _run(
            [
                str(cluster.bindir / "pg_ctl"),
                "start",
                "-D",
                str(cluster.data),
                "-l",
                str(cluster.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {cluster.port}",
            ]
        )
    created = _run(
        [
            str(cluster.bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            SUPERUSER,
            DATABASE,
        ],
        check=False,
    )
    if created.returncode != 0 and not re.search(r"already exists", created.stderr):
        raise PostgresqlError(f"createdb {DATABASE} failed: {created.stderr.strip()}")


def stop(cluster: Cluster) -> bool:
    """Stop the cluster (fast shutdown); True if it was running."""
    if running_pid(cluster) is None:
        return False
    _run([str(cluster.bindir / "pg_ctl"), "stop", "-D", str(cluster.data), "-m", "fast", "-w", "-t", "60"])
    return True
