"""A throwaway PostgreSQL cluster for tests, from Debian's postgresql package (`make system-deps`):
initdb and pg_ctl in a temp folder, listening on 127.0.0.1 only at a free port, its unix socket in
that folder, trust authentication (nothing but loopback reaches it), stopped by PID at the end.

initdb refuses to run as root: as root, the cluster belongs to `nobody`."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

from service.processes import free_port

USER = "bdr"  # the cluster's superuser


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = [d for d in Path("/usr/lib/postgresql").glob("*/bin")
             if (d / "initdb").exists() and (d / "pg_ctl").exists()]
    return max(found, key=lambda d: int(d.parent.name), default=None)


class Cluster:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        # as root, under /tmp: nobody must be able to reach it, and pytest's own temp dirs are 0700
        self.root = Path(tempfile.mkdtemp(prefix="bdr-pg-", dir="/tmp" if self.as_root else None))
        self.data = self.root / "data"
        self.port = free_port()
        self.databases = 0

    def run(self, tool: str, *args: str) -> None:
        """A PostgreSQL tool as the cluster's owner; CalledProcessError (with its output) on failure."""
        cmd = [str(self.bindir / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, cwd=self.root)

    def start(self) -> Cluster:
        if self.as_root:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
        self.run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        # -w: returns once the server accepts connections, or fails
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "-t", "60",
                 "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """An empty database of its own; its URL."""
        self.databases += 1
        name = f"test{self.databases}"
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}"))
        finally:
            engine.dispose()
        return self.url(name)

    def pid(self) -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def stop(self) -> None:
        """pg_ctl's fast shutdown (clients disconnected), SIGKILL by PID if that fails; then the folder."""
        pid = self.pid()
        try:
            if pid is not None:
                self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""
