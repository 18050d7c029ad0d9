"""local/postgresql.py: which server binaries, which data directory, which user runs them."""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from types import SimpleNamespace

import pytest

from local import postgresql


def server_binaries(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        (directory / name).write_text("")
    return directory


def test_the_newest_debian_version_is_chosen(tmp_path: Path) -> None:
    for version in ("13", "15", "9"):
        server_binaries(tmp_path / version / "bin")
    (tmp_path / "17" / "bin").mkdir(parents=True)  # no server binaries: a client-only install
    assert postgresql.find_bindir({}, debian_root=tmp_path) == tmp_path / "15" / "bin"


def test_an_explicit_directory_wins_and_must_hold_the_binaries(tmp_path: Path) -> None:
    server_binaries(tmp_path / "15" / "bin")
    mine = server_binaries(tmp_path / "mine")
    assert postgresql.find_bindir({"CHRONOS_POSTGRESQL_BINDIR": str(mine)}, debian_root=tmp_path) == mine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert postgresql.find_bindir({"CHRONOS_POSTGRESQL_BINDIR": str(empty)}, debian_root=tmp_path) is None


def test_no_server_binaries_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgresql.shutil, "which", lambda name: None)
    assert postgresql.find_bindir({}, debian_root=tmp_path) is None


@pytest.mark.parametrize("raw", ["x", "0", "70000"])
def test_a_bad_port_is_refused_naming_its_variable(raw: str) -> None:
    with pytest.raises(SystemExit, match="CHRONOS_POSTGRESQL_PORT"):
        postgresql.port_from({"CHRONOS_POSTGRESQL_PORT": raw})


def test_the_configuration_listens_on_loopback_on_its_port_with_its_socket_in_the_data(
    tmp_path: Path,
) -> None:
    cluster = postgresql.Cluster(bindir=tmp_path, data=tmp_path / "data", port=25999)
    conf = postgresql.configuration(cluster)
    assert "listen_addresses = '127.0.0.1'" in conf and "port = 25999" in conf
    assert f"unix_socket_directories = '{tmp_path / 'data'}'" in conf
    assert cluster.url == "postgres://postgres@127.0.0.1:25999/ferretdb"
    assert cluster.log_file == tmp_path / "data" / "server.log"


def test_root_runs_server_commands_as_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgresql.os, "geteuid", lambda: 0)
    monkeypatch.setattr(postgresql.pwd, "getpwnam", lambda name: SimpleNamespace(pw_uid=101, pw_gid=104))
    assert postgresql.as_server_user(["initdb", "-D", "x"]) == [
        "runuser",
        "-u",
        "postgres",
        "--",
        "initdb",
        "-D",
        "x",
    ]
    monkeypatch.setattr(postgresql.os, "geteuid", lambda: 1000)
    assert postgresql.as_server_user(["initdb"]) == ["initdb"]


def test_root_without_a_postgres_user_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgresql.os, "geteuid", lambda: 0)

    def missing(name: str) -> pwd.struct_passwd:
        raise KeyError(name)

    monkeypatch.setattr(postgresql.pwd, "getpwnam", missing)
    with pytest.raises(postgresql.PostgresqlError, match="'postgres' user"):
        postgresql.as_server_user(["initdb"])


def test_a_checkout_the_server_user_cannot_reach_keeps_its_data_under_that_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "private"
    (private / "checkout" / ".local").mkdir(parents=True)
    private.chmod(0o700)
    home = tmp_path / "pghome"
    monkeypatch.setattr(postgresql.os, "geteuid", lambda: 0)
    owner = os.stat(private)
    other = SimpleNamespace(pw_uid=owner.st_uid + 1, pw_gid=owner.st_gid + 1, pw_dir=str(home))
    monkeypatch.setattr(postgresql.pwd, "getpwnam", lambda name: other)
    preferred = private / "checkout" / ".local" / "postgresql-data"
    chosen = postgresql.data_directory(preferred)
    assert chosen.parent == home / "chronos" and chosen != postgresql.data_directory(tmp_path / "x" / "data")
    assert chosen == postgresql.data_directory(preferred)  # stable for the same checkout
    owner_itself = SimpleNamespace(pw_uid=owner.st_uid, pw_gid=owner.st_gid, pw_dir=str(home))
    monkeypatch.setattr(postgresql.pwd, "getpwnam", lambda name: owner_itself)
    assert postgresql.data_directory(preferred) == preferred  # every directory above is its own
