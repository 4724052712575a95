"""`make bench`: how fast the service is, where the time goes, and which defaults the data picks.

    python -m bench.run [--out-dir docs] [--seconds 4] [--smoke]

In one run, on 127.0.0.1 only, each configuration in a TorchServe of its own (free ports, its own
archive built from the committed weights, stopped by PID): the in-process limit, TorchServe direct
and through the gateway at several concurrencies, batching, workers and torch threads, gateway
sizes, PSS memory idle and under load, start-up time, and a profile at concurrency 8. The host is
shared and noisy, so configurations are compared as ratios within the run. Every load is closed
loop and stops at its deadline, so a full run takes about seven minutes.

Writes benchmarks.json, benchmarks.png and the generated part of benchmarks.md into --out-dir.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import platform
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import psutil
import requests
import yaml
from PIL import Image

from bench import canvas, inprocess, procs, profile, report
from bench.load import Sample, collect, run_alternating, summarise
from bengali_digit.catalog import MODEL_CONFIG, MODEL_NAME, NUMBER_MODEL_NAME, ROOT
from handler.archive import build_archive
from service.gateway import Gateway
from service.processes import free_port, wait_until
from service.torchserve import API_KEYS, TorchServe, read_properties

Bodies = list[tuple[int | str, bytes]]


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
    number_concurrencies: tuple[int, ...] = (8, 32)  # bengali_number, direct and through the gateway
    number_digits: int = 4


SMOKE = Plan(concurrencies=(1, 2), probe=2, seconds=0.5, warmup=0.2, payloads=6, inprocess_seconds=0.2,
             batch_sizes=(), batch_delays=(), workers=(), threads=(), gateways=(), profile_seconds=1.0, paired_rounds=1,
             paired_seconds=0.3, number_concurrencies=(2,))


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


class Bench:
    def __init__(self, plan: Plan, work: Path, log: Callable[[str], None] = print):
        self.t0 = time.monotonic()
        self.plan, self.work, self.log = plan, work, log
        self.defaults = shipped_defaults()
        self.store = build_archive(work / "model_store")[0].parent
        self.bodies: Bodies = canvas.canvas_pngs(plan.payloads)
        self.number_bodies: Bodies = canvas.number_pngs(plan.payloads, plan.number_digits)
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

    @staticmethod
    def ready_workers(server: TorchServe) -> int:
        workers = requests.get(f"{server.management}/models/{MODEL_NAME}", timeout=5).json()[0]["workers"]
        return sum(w["status"] == "READY" for w in workers)

    def wait_workers(self, server: TorchServe, count: int) -> float:
        return wait_until(lambda: self.ready_workers(server) == count, 120, f"{count} workers", alive=server.alive)

    def scale(self, server: TorchServe, count: int) -> None:
        r = requests.put(f"{server.management}/models/{MODEL_NAME}", timeout=120,
                         params={"min_worker": count, "max_worker": count, "synchronous": "true"})
        r.raise_for_status()
        self.wait_workers(server, count)

    @contextmanager
    def gateway(self, name: str, server: TorchServe, workers: int, threads: int) -> Iterator[Gateway]:
        gw = Gateway(self.work / name, server.inference,
                     settings={"GATEWAY_WORKERS": str(workers), "GATEWAY_THREADS": str(threads),
                               # a pooled connection to TorchServe for every thread, as gateway/__init__.py asks
                               "BDR_POOL_SIZE": str(threads)})
        gw.start()
        try:
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

    # --- the run ---------------------------------------------------------------------------
    def run(self) -> dict:
        plan, d = self.plan, self.defaults
        results: dict = {"meta": meta(plan), "defaults": d, "payloads": payload_facts(self.bodies)}
        # batch 1, the shipped batch size, and 8 whatever is shipped: what batching could gain at most
        sizes = sorted({1, d["batchSize"], 8})
        self.log(f"in-process limit (batches of {sizes}, {d['torch_threads']} torch thread(s))")
        results["in_process"] = inprocess.images_per_second(self.bodies, sizes, plan.inprocess_seconds,
                                                            threads=d["torch_threads"])
        results |= self.shipped()
        results["batching"] = self.batching()
        results["threads"] = self.threads()
        results["wall_s"] = round(time.monotonic() - self.t0, 1)
        return results

    def shipped(self) -> dict:
        """The shipped configuration: start-up, memory, direct vs gateway, profile, workers, gateway sizes."""
        plan, d = self.plan, self.defaults
        out: dict = {}
        self.log("shipped configuration: start-up, direct and gateway, memory, profile")
        t0 = time.monotonic()
        with self.torchserve("shipped") as ts:
            model_ready = time.monotonic() - t0
            gw = Gateway(self.work / "gateway", ts.inference)  # the shipped gunicorn settings, as `make serve`
            gw.start()
            try:
                page = wait_until(lambda: requests.get(gw.url + "/", timeout=5).ok, 60, "page", alive=gw.alive)
                page_ready = time.monotonic() - t0
                gw.wait_ready("/readyz", timeout=60)
                out["startup"] = {"model_ready_s": round(model_ready, 2), "page_ready_s": round(page_ready, 2),
                                  "gateway_ready_s": round(time.monotonic() - t0, 2),
                                  "gateway_page_after_model_s": round(page, 2)}
                roles = self.roles(ts, gw)
                out["memory"] = {"idle": procs.pss_mib(roles)}
                url_direct = f"{ts.inference}/predictions/{MODEL_NAME}"
                url_gateway = f"{gw.url}/api/predict"
                out["direct"], out["gateway"] = [], []
                with procs.PeakPss(lambda: self.roles(ts, gw)) as peak:
                    for c in plan.concurrencies:
                        out["direct"].append(self.cell(url_direct, c, roles, ts, "direct"))
                    for c in plan.concurrencies:
                        out["gateway"].append(self.cell(url_gateway, c, roles, ts, "gateway"))
                out["memory"]["load"] = peak.peak
                out["number"] = {path: [self.cell(url, c, roles, ts, f"{path}, {plan.number_digits}-digit numbers",
                                                  bodies=self.number_bodies) for c in plan.number_concurrencies]
                                 for path, url in (("direct", f"{ts.inference}/predictions/{NUMBER_MODEL_NAME}"),
                                                   ("gateway", f"{gw.url}/api/number"))}
                out["paired"] = self.paired(url_direct, url_gateway)
                out["profile"] = self.profile(ts, gw)
            finally:
                gw.stop()
            out["gateway_sizes"] = self.gateway_sizes(ts)
            # worker counts in turn, `rounds` times over, so that a noisy spell hits them alike
            pools = {n: Pool(plan.probe) for n in plan.workers}
            for _ in range(plan.rounds if plan.workers else 0):
                for n in plan.workers:
                    self.scale(ts, n)
                    self.measure(pools[n], url_direct, self.roles(ts), ts, plan.round_seconds, plan.round_warmup)
            out["workers"] = [{"workers": n, "threads": d["torch_threads"], **self.logged(pool, f"{n} worker(s)")}
                              for n, pool in pools.items()]
        return out

    def paired(self, url_direct: str, url_gateway: str) -> dict[str, dict]:
        """Direct and gateway in alternating short rounds at c=1 and the probe: the acceptance
        ratios, with a noisy spell falling on both paths alike."""
        plan, out = self.plan, {}
        for c in (1, plan.probe):
            pair = run_alternating({"direct": url_direct, "gateway": url_gateway}, self.bodies, c,
                                   plan.paired_seconds, plan.paired_rounds)
            out[str(c)] = {name: r.as_dict() for name, r in pair.items()}
            self.log(f"  paired, {plan.paired_rounds} rounds       c={c:<3} direct {pair['direct'].rps:7.1f} req/s "
                     f"p50 {pair['direct'].p50_ms:6.1f} ms; gateway {pair['gateway'].rps:7.1f} req/s "
                     f"p50 {pair['gateway'].p50_ms:6.1f} ms")
        return out

    def sampled(self, targets: list[psutil.Process], table: tuple, gil: bool,
                measure: Callable[[], dict]) -> tuple[dict, dict[str, float], list[str]]:
        """Run `measure` (one cell) while py-spy samples each of `targets`; the cell, the share of
        samples per stage of `table`, and whatever went wrong with py-spy (it needs ptrace)."""
        seconds = self.plan.profile_seconds
        files = [self.work / f"py-spy-{p.pid}.txt" for p in targets]
        spies = [profile.start_pyspy(p.pid, seconds, f, gil) for p, f in zip(targets, files, strict=True)]
        cell = measure()
        errors = []
        for spy in spies:
            try:
                if spy.wait(timeout=seconds + 30) != 0:
                    errors.append(f"py-spy exited {spy.returncode}")
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
                errors.append("py-spy did not finish")
        return cell, profile.stages(files, table, busy_only=gil), errors

    def profile(self, ts: TorchServe, gw: Gateway) -> dict:
        """Loads again with py-spy on the TorchServe workers (direct, c=8: which stage of a request
        costs most) and on the gunicorn workers (through the gateway at the probe: what the gateway
        spends its CPU on)."""
        plan = self.plan
        c, seconds = plan.profile_concurrency, plan.profile_seconds
        self.log(f"profiles: TorchServe workers at c={c}, gunicorn workers at c={plan.probe} (py-spy)")
        roles = self.roles(ts, gw)
        workers = [p for name, p in roles.items() if name.startswith("worker")]
        cell, stages, errors = self.sampled(workers, profile.WORKER_STAGES, False, lambda: self.cell(
            f"{ts.inference}/predictions/{MODEL_NAME}", c, roles, ts, "direct, profiled", seconds, 0.0))
        out = {"concurrency": c, "cell": cell, "worker_stages": stages, "errors": errors}
        gunicorn = [p for name, p in roles.items() if name.startswith("gunicorn worker")]
        cell, stages, errors = self.sampled(gunicorn, profile.GATEWAY_STAGES, True, lambda: self.cell(
            f"{gw.url}/api/predict", plan.probe, roles, ts, "gateway, profiled", seconds, 0.0))
        out["gateway"] = {"concurrency": plan.probe, "cell": cell, "stages": stages, "errors": errors}
        return out

    def gateway_sizes(self, ts: TorchServe) -> list[dict]:
        """Gunicorn workers × threads, all up at once in front of the same TorchServe, measured in
        turn `rounds` times over at c=1 and the probe, each followed by direct at the probe: every
        ratio compares loads seconds apart, and a noisy spell hits every size alike."""
        plan = self.plan
        if not plan.gateways:
            return []
        self.log(f"gateway sizes (workers, threads) {list(plan.gateways)}, {plan.rounds} rounds")
        url_direct = f"{ts.inference}/predictions/{MODEL_NAME}"
        pools = {(size, c): Pool(c) for size in plan.gateways for c in (1, plan.probe)}
        direct = {size: Pool(plan.probe) for size in plan.gateways}
        with ExitStack() as stack:
            gws = {(w, t): stack.enter_context(self.gateway(f"gateway-{w}x{t}", ts, w, t)) for w, t in plan.gateways}
            for _ in range(plan.rounds):
                for size, gw in gws.items():
                    roles = self.roles(ts, gw)
                    for c in (1, plan.probe):
                        self.measure(pools[(size, c)], f"{gw.url}/api/predict", roles, ts, plan.round_seconds,
                                     plan.round_warmup)
                    self.measure(direct[size], url_direct, roles, ts, plan.round_seconds, plan.round_warmup)
        return [{"workers": w, "threads": t,
                 "cells": [self.logged(pools[((w, t), c)], f"gateway {w}×{t}") for c in (1, plan.probe)],
                 "direct": self.logged(direct[(w, t)], "direct")} for w, t in plan.gateways]

    def batching_rows(self) -> list[tuple[int, int]]:
        plan, shipped = self.plan, self.defaults["batchSize"]
        rows = [(bs, 0 if bs == 1 else min(plan.batch_delays)) for bs in plan.batch_sizes]
        rows += [(shipped, d) for d in plan.batch_delays if plan.batch_sizes and shipped > 1]
        return list(dict.fromkeys(rows))

    def batching(self) -> list[dict]:
        """Every batching setting in a TorchServe of its own, all up at once (idle ones cost next to
        nothing) and measured in turn, `rounds` times over, so that noise hits them alike."""
        plan, rows = self.plan, self.batching_rows()
        if not rows:
            return []
        self.log(f"batching: {len(rows)} TorchServes (batchSize, maxBatchDelay) {rows}, {plan.rounds} rounds")
        pools = {(row, c): Pool(c) for row in rows for c in plan.batching_concurrencies}
        with ExitStack() as stack:
            servers = {(bs, d): stack.enter_context(self.torchserve(f"batch-{bs}-{d}", batchSize=bs, maxBatchDelay=d))
                       for bs, d in rows}
            for _ in range(plan.rounds):
                for row, ts in servers.items():
                    for c in plan.batching_concurrencies:
                        self.measure(pools[(row, c)], f"{ts.inference}/predictions/{MODEL_NAME}", self.roles(ts), ts,
                                     plan.round_seconds, plan.round_warmup)
        return [{"batchSize": bs, "maxBatchDelay": d,
                 "cells": [self.logged(pools[((bs, d), c)], f"batch {bs}/{d} ms") for c in plan.batching_concurrencies]}
                for bs, d in rows]

    def threads(self) -> list[dict]:
        out = []
        for workers, threads in self.plan.threads:
            self.log(f"{workers} worker(s) × {threads} torch threads")
            with self.torchserve(f"threads-{workers}x{threads}", env={"BDR_TORCH_THREADS": str(threads)},
                                 minWorkers=workers, maxWorkers=workers) as ts:
                url = f"{ts.inference}/predictions/{MODEL_NAME}"
                cell = self.cell(url, self.plan.probe, self.roles(ts), ts, f"{workers}×{threads} threads")
                out.append({"workers": workers, "threads": threads, **cell})
        return out


def meta(plan: Plan) -> dict:
    training = [p.pid for p in psutil.process_iter(["cmdline"])
                if "training.train" in " ".join(p.info["cmdline"] or [])]
    return {"started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "host": platform.node(),
            "cpus": psutil.cpu_count(), "cpu": cpu_model(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "load_average_at_start": [round(x, 2) for x in psutil.getloadavg()],
            "training_running_at_start": bool(training), "plan": asdict(plan)}


def cpu_model() -> str:
    """The CPU's name and widest vector units: hosts differ, and torch's speed with them."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    fields = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in info.splitlines() if ":" in line)}
    name = fields.get("model name", "unknown")
    flags = set(fields.get("flags", "").split())
    vector = next((f for f in ("avx512_bf16", "avx512f", "avx2") if f in flags), "no AVX2")
    return f"{name} ({vector})"


def payload_facts(bodies: Bodies) -> dict:
    sides = Counter(Image.open(io.BytesIO(b)).size[0] for _, b in bodies)
    return {"count": len(bodies), "digits": dict(sorted(Counter(d for d, _ in bodies).items())),
            "sides_px": dict(sorted(sides.items())), "mean_bytes": round(sum(len(b) for _, b in bodies) / len(bodies)),
            "source": "canvas_val_strokes.json" if canvas.drawings() else "system fonts"}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", type=Path, default=ROOT / "docs", help="(default: docs)")
    p.add_argument("--seconds", type=float, help=f"measured seconds per cell (default: {Plan.seconds})")
    p.add_argument("--smoke", action="store_true", help="one configuration, a handful of requests: checks, not numbers")
    args = p.parse_args(argv)
    plan = SMOKE if args.smoke else Plan()
    if args.seconds:
        plan = replace(plan, seconds=args.seconds)
    with tempfile.TemporaryDirectory(prefix="bdr-bench-") as work:
        bench = Bench(plan, Path(work))
        results = bench.run()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "benchmarks.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    report.write(results, args.out_dir)
    print(f"wrote {args.out_dir}/benchmarks.json, benchmarks.md, benchmarks.png in {results['wall_s']} s")
    return results


if __name__ == "__main__":
    main()
