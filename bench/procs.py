"""Who is who among the processes a benchmark started, and what each costs: PSS memory and CPU time.

PSS (proportional set size) splits every shared page among the processes that map it, so the PSS
of the processes adds up to what they cost the host together; RSS would count torch's libraries
once per worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psutil

Roles = dict[str, psutil.Process]  # "frontend", "worker 1", "gunicorn master", ... -> process


def torchserve_roles(launcher_pid: int) -> Roles:
    """TorchServe's launcher (a Python script), its Java frontend and the Python workers."""
    launcher = psutil.Process(launcher_pid)
    roles: Roles = {"launcher": launcher}
    workers = 0
    for proc in sorted(launcher.children(recursive=True), key=lambda p: p.pid):
        try:
            cmd = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "model_service_worker" in cmd:
            workers += 1
            roles[f"worker {workers}"] = proc
        elif proc.name() == "java":
            roles["frontend"] = proc
    return roles


def gateway_roles(master_pid: int) -> Roles:
    master = psutil.Process(master_pid)
    roles: Roles = {"gunicorn master": master}
    for i, proc in enumerate(sorted(master.children(), key=lambda p: p.pid), 1):
        roles[f"gunicorn worker {i}"] = proc
    return roles


def pss_mib(roles: Roles) -> dict[str, float]:
    out = {}
    for name, proc in roles.items():
        try:
            out[name] = round(proc.memory_full_info().pss / 2**20, 1)
        except psutil.Error:  # a worker restarting between the listing and the reading
            continue
    return out


def cpu_seconds(roles: Roles) -> dict[str, float]:
    out = {}
    for name, proc in roles.items():
        try:
            t = proc.cpu_times()
            out[name] = t.user + t.system
        except psutil.Error:
            continue
    return out


class PeakPss:
    """Samples PSS in a thread while a load runs and keeps each process's peak."""

    def __init__(self, roles: Callable[[], Roles], every: float = 0.5):
        self.roles, self.every = roles, every
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, mib in pss_mib(self.roles()).items():
                self.peak[name] = max(mib, self.peak.get(name, 0.0))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
