"""A throwaway PostgreSQL server for tests: a fresh cluster in a temp folder owned by `postgres`, on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL bin folder with initdb and pg_ctl, or None."""
    return next((d for d in BIN_DIRS if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """initdb + pg_ctl start as the postgres user; `url` reaches it over 127.0.0.1; `stop()` removes everything."""

    def __init__(self) -> None:
        bindir = server_binaries()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found (run .ci/system-deps.sh as root)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="facegate-pg-"))
        self.data, self.sockets = self.root / "data", self.root / "sockets"
        self.sockets.mkdir()
        self.port = free_port()
        shutil.chown(self.root, "postgres")
        shutil.chown(self.sockets, "postgres")
        self.root.chmod(0o700)

    def _as_postgres(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def start(self) -> ThrowawayPostgres:
        self._as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start")
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        self._as_postgres(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", f'CREATE DATABASE "{name}"'
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
