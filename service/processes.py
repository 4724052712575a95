"""Start, wait for and stop our own server processes, each in its own process group, by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(cmd: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Run `cmd` in a new session, so that stopping its group also stops what it started."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)


def stop_group(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL whatever is left after `timeout`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):  # reap our own child: a zombie keeps the group alive
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def wait_until(check: Callable[[], bool], timeout: float, what: str, alive: Callable[[], bool] = lambda: True) -> float:
    """Poll `check` until it holds; seconds waited. Raises TimeoutError at the deadline, or
    RuntimeError as soon as the process being waited for has died."""
    t0 = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - t0
        except requests.RequestException:
            pass
        if not alive():
            raise RuntimeError(f"process died while waiting for {what}")
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.2)


class ServerProcess:
    """What our servers share: `start` spawns `self.process` (with `spawn`), `stop` ends its whole
    group by PID. As a context manager it starts, waits with `wait_started`, and stops again if that
    wait fails, so a server that never came up is never left running."""

    process: subprocess.Popen | None

    def start(self) -> Self:
        raise NotImplementedError

    def wait_started(self) -> float:
        raise NotImplementedError

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process.pid)
            self.process.wait(timeout=5)
            self.process = None

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_started()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
