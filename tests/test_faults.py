"""Faults under a bounded load, against real processes: a TorchServe worker killed with SIGKILL,
every worker killed, TorchServe stopped and started again, a gunicorn worker killed. Each heals by
itself; meanwhile every answer is a prediction or a quick 503 JSON. The recovery times are printed
(`pytest -s`) and stated in docs/reliability.md; the bounds asserted here are deliberately generous.

One TorchServe (two workers) and one gateway serve the whole module; each test leaves them healthy.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil
import pytest
import requests

from bengali_digit.catalog import MODEL_NAME
from service.gateway import Gateway
from service.processes import free_port, wait_until
from service.torchserve import API_KEYS, TorchServe
from synthetic.bad_inputs import good_png

WORKERS = 2
RECOVERY_BOUND = 60.0  # seconds: generous; the measured figures are a few seconds (docs/reliability.md)


@pytest.fixture(scope="module")
def stack(model_store, tmp_path_factory):
    ts = TorchServe(tmp_path_factory.mktemp("faults-torchserve"), model_store=model_store,
                    ports={key: free_port() for key in API_KEYS},
                    model_overrides={"minWorkers": WORKERS, "maxWorkers": WORKERS})
    with ts, Gateway(tmp_path_factory.mktemp("faults-gateway"), ts.inference) as gw:
        yield ts, gw


def workers(ts: TorchServe) -> dict[int, str]:
    describe = requests.get(f"{ts.management}/models/{MODEL_NAME}", timeout=5).json()[0]
    return {w["pid"]: w["status"] for w in describe["workers"]}


def healthy(ts: TorchServe, gw: Gateway) -> dict[int, str]:
    """Wait until every worker is READY and the gateway is ready; the workers by PID."""
    wait_until(lambda: list(workers(ts).values()) == ["READY"] * WORKERS, RECOVERY_BOUND, "TorchServe workers",
               alive=ts.alive)
    gw.wait_ready("/readyz", timeout=RECOVERY_BOUND)
    return workers(ts)


@dataclass
class Load:
    """`threads` clients sending good digits through the gateway back to back, until stopped or
    `limit` seconds have passed. Every answer is kept as (time, status, error code or exception)."""

    url: str
    threads: int = 4
    limit: float = 120.0
    results: list[tuple[float, int, str]] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.pool = [threading.Thread(target=self.run, daemon=True) for _ in range(self.threads)]

    def run(self) -> None:
        deadline = time.monotonic() + self.limit
        with requests.Session() as session:
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                t0 = time.monotonic()
                try:
                    r = session.post(self.url, data=good_png(), headers={"Content-Type": "image/png"}, timeout=15)
                    outcome = (r.status_code, "" if r.ok else r.json()["error"])  # JSON, or this raises
                except (requests.RequestException, ValueError) as exc:
                    outcome = (0, type(exc).__name__)
                with self.lock:
                    self.results.append((t0, time.monotonic() - t0, *outcome))
                time.sleep(0.01)  # bounded: a few dozen requests a second, not a flood

    def __enter__(self) -> Load:
        for t in self.pool:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for t in self.pool:
            t.join(timeout=30)

    def since(self, t: float) -> list[tuple[float, float, int, str]]:
        with self.lock:
            return [r for r in self.results if r[0] >= t]

    def first_ok_after(self, t: float) -> float | None:
        oks = [r[0] + r[1] for r in self.since(t) if r[2] == 200]
        return min(oks) - t if oks else None

    def mix(self, t: float = 0.0) -> Counter:
        return Counter(f"{status} {code}".strip() for _, _, status, code in self.since(t))


def wait_for(check, timeout: float, what: str) -> float:
    return wait_until(check, timeout, what)


def test_killed_worker_is_replaced_under_load(stack):
    ts, gw = stack
    before = healthy(ts, gw)
    victim = next(iter(before))
    with Load(f"{gw.url}/api/predict") as load:
        wait_for(lambda: load.mix()["200"] >= 20, 30, "load under way")
        t_kill = time.monotonic()
        os.kill(victim, signal.SIGKILL)  # a worker of our own TorchServe
        replaced = wait_for(lambda: victim not in workers(ts) and list(workers(ts).values()) == ["READY"] * WORKERS,
                            RECOVERY_BOUND, "a replacement worker")
        t_back = time.monotonic()
        wait_for(lambda: load.mix(t_back)["200"] >= 20, 30, "load after recovery")
    during, after = load.mix(t_kill) - load.mix(t_back), load.mix(t_back)
    print(f"\nworker SIGKILL: replacement READY after {replaced:.1f} s; answers meanwhile {dict(during)}; "
          f"after {dict(after)}")
    assert set(load.mix()) <= {"200", "503 model_unavailable"}, load.mix()  # JSON every time, never a hang
    assert set(after) == {"200"}, after
    # only requests inside the dying worker's batch may fail: the other worker serves throughout
    assert sum(n for k, n in during.items() if k != "200") <= 16, during


def test_every_worker_killed_then_back(stack):
    ts, gw = stack
    before = healthy(ts, gw)
    with Load(f"{gw.url}/api/predict") as load:
        wait_for(lambda: load.mix()["200"] >= 10, 30, "load under way")
        t_kill = time.monotonic()
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        first_ok = wait_for(lambda: load.first_ok_after(t_kill + 0.5) is not None, RECOVERY_BOUND,
                            "a prediction after the outage")
        all_back = wait_for(lambda: not set(before) & set(workers(ts)) and
                            list(workers(ts).values()) == ["READY"] * WORKERS, RECOVERY_BOUND, "both workers back")
    slowest = max(d for _, d, _, _ in load.since(t_kill))
    print(f"\nall workers SIGKILL: first prediction after {load.first_ok_after(t_kill + 0.5) + 0.5:.1f} s, "
          f"both workers READY after {all_back + first_ok:.1f} s; slowest answer {slowest:.1f} s; "
          f"answers {dict(load.mix(t_kill))}")
    assert set(load.mix()) <= {"200", "503 model_unavailable"}, load.mix()
    assert slowest < 15  # the gateway's read timeout (5 s) bounds every wait; 15 s is the client's own limit


def test_torchserve_stopped_then_started_gateway_recovers(stack):
    ts, gw = stack
    healthy(ts, gw)
    with Load(f"{gw.url}/api/predict") as load:
        wait_for(lambda: load.mix()["200"] >= 10, 30, "load under way")
        t_stop = time.monotonic()
        ts.stop()
        stopped = time.monotonic()
        wait_for(lambda: load.mix(stopped)["503 model_unavailable"] >= 10, 30, "503s while TorchServe is down")
        down = [d for _, d, status, _ in load.since(stopped) if status == 503]
        ready = requests.get(f"{gw.url}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["status"] == "not_ready", ready.text
        assert requests.get(f"{gw.url}/healthz", timeout=5).json() == {"status": "ok"}

        t_start = time.monotonic()
        ts.start()
        ts_ready = ts.wait_ready(timeout=RECOVERY_BOUND * 2)
        gw_ready = gw.wait_ready("/readyz", timeout=RECOVERY_BOUND)
        t_ready = time.monotonic()
        wait_for(lambda: load.mix(t_ready)["200"] >= 20, 30, "predictions after the restart")
    first_ok = load.first_ok_after(t_start)
    print(f"\nTorchServe stopped: {len(down)} 503s answered in at most {max(down) * 1000:.0f} ms "
          f"(median {sorted(down)[len(down) // 2] * 1000:.0f} ms); stop took {stopped - t_stop:.1f} s; started again: "
          f"TorchServe ready in {ts_ready:.1f} s, gateway ready {gw_ready:.1f} s later, first prediction "
          f"{first_ok:.1f} s after the start; answers {dict(load.mix(t_stop))}")
    assert max(down) < 2.0  # refused connections are answered at once, not after a timeout
    assert set(load.mix()) <= {"200", "503 model_unavailable"}, load.mix()
    assert set(load.mix(t_ready)) == {"200"}, load.mix(t_ready)


def gunicorn_workers(gw: Gateway) -> set[int]:
    return {p.pid for p in psutil.Process(gw.process.pid).children()}


def test_killed_gunicorn_worker_is_replaced(stack):
    ts, gw = stack
    healthy(ts, gw)
    before = gunicorn_workers(gw)
    assert len(before) == 2, before  # GATEWAY_WORKERS' default
    victim = min(before)
    with Load(f"{gw.url}/api/predict") as load:
        wait_for(lambda: load.mix()["200"] >= 10, 30, "load under way")
        t_kill = time.monotonic()
        os.kill(victim, signal.SIGKILL)  # a worker of our own gunicorn
        replaced = wait_for(lambda: len(gunicorn_workers(gw)) == len(before) and victim not in gunicorn_workers(gw),
                            RECOVERY_BOUND, "a replacement gunicorn worker")
        t_back = time.monotonic()
        gw.wait_ready("/readyz", timeout=30)
        wait_for(lambda: load.mix(t_back)["200"] >= 20, 30, "load after the replacement")
    during = load.mix(t_kill) - load.mix(t_back)
    print(f"\ngunicorn worker SIGKILL: replaced after {replaced:.1f} s; answers meanwhile {dict(during)}")
    assert gw.alive()
    # a request the dead worker held is cut off (the client sees a dropped connection); nothing else fails
    assert sum(n for k, n in during.items() if k != "200") <= 8, during
    assert set(load.mix(t_back)) == {"200"}, load.mix(t_back)
