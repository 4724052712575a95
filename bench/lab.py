"""What every experiment of `make bench` stands on: the plan, TorchServes and gateways on free
loopback ports (each its own archive built from the committed weights, stopped by PID), worker
scaling, and one measured cell: a closed-loop load with the CPU each process spent on it."""

from __future__ import annotations

import importlib.util
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import yaml

from bench import canvas, procs, profile
from bench.load import Bodies, Sample, collect, summarise
from bengali_digit.catalog import MODEL_CONFIG, MODEL_NAME, ROOT
from handler.archive import build_archive
from service.gateway import Gateway
from service.processes import free_port, wait_until
from service.torchserve import API_KEYS, TorchServe, read_properties


@dataclass(frozen=True)
class Plan:
    concurrencies: tuple[int, ...] = (1, 8, 32, 64)  # direct and through the gateway
    probe: int = 32  # where configurations are compared
    seconds: float = 4.0  # measured per cell, after the warm-up
    warmup: float = 1.0
    payloads: int = 120  # different drawings, sent round-robin
    inprocess_seconds: float = 3.0
    # batching: each batch size with the shortest wait for a batch to fill, then the shipped batch
    # size with longer waits (maxBatchDelay, ms); batch size 1 never waits
    batch_sizes: tuple[int, ...] = (1, 4, 8, 16)
    batch_delays: tuple[int, ...] = (1, 5, 20)
    batching_concurrencies: tuple[int, ...] = (1, 8, 32)
    workers: tuple[int, ...] = (1, 2, 3)  # scaled through the management API, torch threads as shipped
    threads: tuple[tuple[int, int], ...] = ((1, 2), (2, 2))  # (workers, torch threads each): a restart each
    gateways: tuple[tuple[int, int], ...] = ((2, 4), (2, 8), (2, 16), (2, 32), (1, 32), (4, 8))  # workers, threads
    paired_rounds: int = 4  # direct and gateway in turn, for the acceptance ratios
    paired_seconds: float = 1.5
    rounds: int = 2  # batching settings and worker counts are measured in turn, this many times over
    round_seconds: float = 2.0
    round_warmup: float = 0.5
    profile_concurrency: int = 8
    profile_seconds: float = 5.0
    number_concurrencies: tuple[int, ...] = (1, 8, 32)  # bengali_number, direct and through the gateway
    number_digits: int = 4
    not_sure_concurrencies: tuple[int, ...] = (8, 32)  # drawings of no digit, direct and through the gateway


# c=8 among the concurrencies: the acceptance's p99 row reads it
SMOKE = Plan(concurrencies=(1, 2, 8), probe=2, seconds=0.5, warmup=0.2, payloads=6, inprocess_seconds=0.2,
             batch_sizes=(), batch_delays=(), workers=(), threads=(), gateways=(), profile_seconds=1.0, paired_rounds=2,
             paired_seconds=0.3, number_concurrencies=(2,), not_sure_concurrencies=(2,))


@dataclass
class Pool:
    """Loads at one concurrency, pooled over rounds: samples, CPU seconds per process, and the
    changes of TorchServe's latency counters."""

    concurrency: int
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    cpu: Counter = field(default_factory=Counter)
    ts: Counter = field(default_factory=Counter)

    def result(self) -> dict:
        out = summarise(self.concurrency, self.seconds, self.samples).as_dict()
        n = out["requests"]
        out["cpu_ms_per_request"] = {name: round(t * 1e3 / n, 3) for name, t in self.cpu.items()} if n else {}
        if self.ts:
            out["torchserve_ms"] = profile.ts_split(dict.fromkeys(self.ts, 0.0), dict(self.ts))
        return out


def shipped_defaults() -> dict:
    """What `make serve` runs: the model block of config.properties and the gunicorn sizes."""
    model = json.loads(read_properties(ROOT / "config.properties")["models"])[MODEL_NAME]
    version = next(v for v in model.values() if v.get("defaultVersion", True))
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gateway" / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    handler = yaml.safe_load(MODEL_CONFIG.read_text())["handler"]
    return {"minWorkers": version["minWorkers"], "maxWorkers": version["maxWorkers"],
            "batchSize": version["batchSize"], "maxBatchDelay": version["maxBatchDelay"],
            "torch_threads": int(handler["torch_threads"]),
            "gunicorn_workers": conf.workers, "gunicorn_threads": conf.threads}


def predictions(server: TorchServe, model: str = MODEL_NAME) -> str:
    return f"{server.inference}/predictions/{model}"


class Lab:
    def __init__(self, plan: Plan, work: Path, log: Callable[[str], None] = print):
        self.t0 = time.monotonic()
        self.plan, self.work, self.log = plan, work, log
        self.defaults = shipped_defaults()
        self.store = build_archive(work / "model_store")[0].parent
        self.bodies: Bodies = canvas.canvas_pngs(plan.payloads)
        self.number_bodies: Bodies = canvas.number_bodies(plan.payloads, plan.number_digits)
        self.no_digit_bodies: Bodies = canvas.no_digit_pngs(plan.payloads)
        self.me = psutil.Process()

    # --- processes -------------------------------------------------------------------------
    @contextmanager
    def torchserve(self, name: str, env: dict[str, str] | None = None, **model: int) -> Iterator[TorchServe]:
        """A ready TorchServe with the shipped settings but `model` (set on both models), all the digit
        model's workers READY. Without `model`, both models run exactly as config.properties ships them."""
        server = TorchServe(self.work / name, model_store=self.store, ports={k: free_port() for k in API_KEYS},
                            model_overrides=model, env=env or {})
        server.start()
        try:
            server.wait_ready(timeout=180)
            self.wait_workers(server, model.get("minWorkers", self.defaults["minWorkers"]))
            yield server
        finally:
            server.stop()

    def wait_workers(self, server: TorchServe, count: int) -> float:
        def ready() -> bool:
            workers = requests.get(f"{server.management}/models/{MODEL_NAME}", timeout=5).json()[0]["workers"]
            return sum(w["status"] == "READY" for w in workers) == count

        return wait_until(ready, 120, f"{count} workers", alive=server.alive)

    def scale(self, server: TorchServe, count: int) -> None:
        r = requests.put(f"{server.management}/models/{MODEL_NAME}", timeout=120,
                         params={"min_worker": count, "max_worker": count, "synchronous": "true"})
        r.raise_for_status()
        self.wait_workers(server, count)

    @contextmanager
    def gateway(self, name: str, server: TorchServe, size: tuple[int, int] | None = None,
                wait: bool = True) -> Iterator[Gateway]:
        """A gateway in front of `server`: gunicorn's shipped settings, or `size` (workers, threads) with
        a pooled connection to TorchServe for every thread, as gateway/__init__.py asks. With `wait`,
        yielded once /readyz answers; otherwise as soon as it is launched."""
        settings = {} if size is None else {"GATEWAY_WORKERS": str(size[0]), "GATEWAY_THREADS": str(size[1]),
                                            "BDR_POOL_SIZE": str(size[1])}
        gw = Gateway(self.work / name, server.inference, settings=settings)
        gw.start()
        try:
            if wait:
                gw.wait_ready("/readyz", timeout=60)
            yield gw
        finally:
            gw.stop()

    def roles(self, server: TorchServe, gw: Gateway | None = None) -> procs.Roles:
        roles = procs.torchserve_roles(server.process.pid)
        if gw is not None:
            roles |= procs.gateway_roles(gw.process.pid)
        return roles | {"load generator": self.me}

    # --- one cell --------------------------------------------------------------------------
    def measure(self, pool: Pool, url: str, roles: procs.Roles, server: TorchServe | None = None,
                seconds: float | None = None, warmup: float | None = None, bodies: Bodies | None = None) -> None:
        """One closed-loop load added to `pool`: its samples, the CPU every process spent in the
        measured window and, given the TorchServe, the frontend's own latency counters."""
        marks: dict[str, dict[str, float]] = {}
        before = profile.ts_counters(server.metrics) if server else None
        seconds = self.plan.seconds if seconds is None else seconds
        pool.samples += collect(url, bodies or self.bodies, pool.concurrency, seconds,
                                self.plan.warmup if warmup is None else warmup,
                                mark=lambda edge: marks.__setitem__(edge, procs.cpu_seconds(roles)))
        pool.seconds += seconds
        if {"start", "stop"} <= marks.keys():
            for name, t in marks["stop"].items():
                pool.cpu[name] += t - marks["start"].get(name, t)
        if server:
            after = profile.ts_counters(server.metrics)
            for key in after:
                pool.ts[key] += after[key] - before[key]

    def round(self, pool: Pool, url: str, roles: procs.Roles, server: TorchServe) -> None:
        """One short round of a configuration measured in turn with others (Plan.rounds)."""
        self.measure(pool, url, roles, server, self.plan.round_seconds, self.plan.round_warmup)

    def cell(self, url: str, concurrency: int, roles: procs.Roles, server: TorchServe | None = None,
             label: str = "", seconds: float | None = None, warmup: float | None = None,
             bodies: Bodies | None = None) -> dict:
        """One closed-loop load, summarised."""
        pool = Pool(concurrency)
        self.measure(pool, url, roles, server, seconds, warmup, bodies)
        return self.logged(pool, label)

    def logged(self, pool: Pool, label: str) -> dict:
        out = pool.result()
        self.log(f"  {label:<34} c={pool.concurrency:<3} {out['rps']:7.1f} req/s  p50 {out['p50_ms']:6.1f}  "
                 f"p99 {out['p99_ms']:6.1f} ms  errors {out['error_count']}")
        return out
