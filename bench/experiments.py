"""The experiments of `make bench`, plain functions over a Lab: each returns its part of
benchmarks.json. docs/benchmarks.md says what each one found and which defaults it chose.

Configurations compared with one another are measured in turn, `Plan.rounds` times over, so that a
noisy spell on this shared host hits them alike."""

from __future__ import annotations

import time
from contextlib import ExitStack

import requests

from bench import inprocess, procs, profile
from bench.lab import Lab, Pool, predictions
from bench.load import Bodies, run_alternating
from bench.thresholds import LIMIT_BATCH
from bengali_digit.catalog import NUMBER_MODEL_NAME
from service.gateway import Gateway
from service.processes import wait_until
from service.torchserve import TorchServe


def in_process(lab: Lab) -> dict:
    """The handler called directly with the torch threads of one worker, in batches of 1 (no
    batching), the shipped size and LIMIT_BATCH: in this process (what one core can do), then in two
    processes at once (what both cores can do, the limit TorchServe is judged against)."""
    threads = lab.defaults["torch_threads"]
    sizes = sorted({1, lab.defaults["batchSize"], LIMIT_BATCH})
    lab.log(f"in-process limit (batches of {sizes}, {threads} torch thread(s)), one process, then two")
    one = inprocess.images_per_second(lab.bodies, sizes, lab.plan.inprocess_seconds, threads=threads)
    two = inprocess.two_processes(lab.bodies, sizes, lab.plan.inprocess_seconds, threads=threads)
    for bs, v in two.items():
        each = " + ".join(f"{p['images_per_s']:.1f}" for p in v["per_process"])
        lab.log(f"  batch {bs:<3} one process {one[bs]['images_per_s']:7.1f} images/s, two {each} = "
                f"{v['images_per_s']:.1f}")
    return {"in_process": one, "in_process_two_processes": two}


def shipped(lab: Lab) -> dict:
    """The shipped configuration: start-up, memory, direct vs gateway, numbers, the paired acceptance
    loads and the profiles; then, in the same TorchServe, gateway sizes and worker counts."""
    plan, out = lab.plan, {}
    lab.log("shipped configuration: start-up, direct and gateway, memory, profile")
    t0 = time.monotonic()
    with lab.torchserve("shipped") as ts:
        model_ready = time.monotonic() - t0
        with lab.gateway("gateway", ts, wait=False) as gw:  # the shipped gunicorn settings, as `make serve`
            page = wait_until(lambda: requests.get(gw.url + "/", timeout=5).ok, 60, "page", alive=gw.alive)
            page_ready = time.monotonic() - t0
            gw.wait_ready("/readyz", timeout=60)
            out["startup"] = {"model_ready_s": round(model_ready, 2), "page_ready_s": round(page_ready, 2),
                              "gateway_ready_s": round(time.monotonic() - t0, 2),
                              "gateway_page_after_model_s": round(page, 2)}
            roles = lab.roles(ts, gw)
            out["memory"] = {"idle": procs.pss_mib(roles)}
            urls = {"direct": predictions(ts), "gateway": f"{gw.url}/api/predict"}
            with procs.PeakPss(lambda: lab.roles(ts, gw)) as peak:
                for path, url in urls.items():
                    out[path] = [lab.cell(url, c, roles, ts, path) for c in plan.concurrencies]
            out["memory"]["load"] = peak.peak
            numbers = {"direct": predictions(ts, NUMBER_MODEL_NAME), "gateway": f"{gw.url}/api/number"}
            out["number"] = beside(lab, numbers, plan.number_concurrencies, lab.number_bodies,
                                   f"{plan.number_digits}-digit numbers", roles, ts)
            out["not_sure"] = beside(lab, urls, plan.not_sure_concurrencies, lab.no_digit_bodies,
                                     "no digit drawn", roles, ts)
            out["paired"] = paired(lab, urls)
            out["limit_rounds"] = limit_rounds(lab, urls["direct"])
            out["profile"] = profiles(lab, ts, gw)
        out["gateway_sizes"] = gateway_sizes(lab, ts)
        out["workers"] = workers(lab, ts)
    return out


def beside(lab: Lab, urls: dict[str, str], concurrencies: tuple[int, ...], bodies: Bodies, what: str,
           roles: procs.Roles, ts: TorchServe) -> dict[str, list[dict]]:
    """Other bodies (or another model) on each path at `concurrencies`, in the TorchServe and gateway
    the digits were just measured in, to be set beside them."""
    return {path: [lab.cell(url, c, roles, ts, f"{path}, {what}", bodies=bodies) for c in concurrencies]
            for path, url in urls.items()}


def paired(lab: Lab, urls: dict[str, str]) -> dict[str, dict]:
    """Direct and gateway in alternating short rounds at c=1 and the probe: the acceptance ratios,
    with a noisy spell falling on both paths alike; pooled, and round by round under "rounds"."""
    plan, out = lab.plan, {}
    for c in (1, plan.probe):
        pair, rounds = run_alternating(urls, lab.bodies, c, plan.paired_seconds, plan.paired_rounds)
        out[str(c)] = {name: r.as_dict() for name, r in pair.items()}
        out[str(c)]["rounds"] = [{name: r.as_dict() for name, r in one.items()} for one in rounds]
        lab.log(f"  paired, {plan.paired_rounds} rounds       c={c:<3} direct {pair['direct'].rps:7.1f} req/s "
                f"p50 {pair['direct'].p50_ms:6.1f} ms; gateway {pair['gateway'].rps:7.1f} req/s "
                f"p50 {pair['gateway'].p50_ms:6.1f} ms")
    return out


def limit_rounds(lab: Lab, direct: str) -> list[dict]:
    """The in-process limit in two processes at once (batches of LIMIT_BATCH) and TorchServe direct
    at the probe, in alternating rounds: two processes at once are what this host's neighbours slow
    down most, and a limit measured minutes away from the load it judges moved by half between two
    runs. Each round: the limit's images/s, then direct's req/s."""
    plan, out = lab.plan, []
    for _ in range(plan.paired_rounds):
        limit = inprocess.two_processes(lab.bodies, [LIMIT_BATCH], plan.inprocess_seconds,
                                        threads=lab.defaults["torch_threads"])[str(LIMIT_BATCH)]
        served = lab.cell(direct, plan.probe, {}, seconds=plan.inprocess_seconds, label="direct, after the limit")
        out.append({"limit_images_per_s": limit["images_per_s"], "direct_rps": served["rps"],
                    "direct_errors": served["error_count"]})
        lab.log(f"  limit round: two processes {limit['images_per_s']:7.1f} images/s, "
                f"direct {served['rps']:7.1f} req/s")
    return out


def profiles(lab: Lab, ts: TorchServe, gw: Gateway) -> dict:
    """Loads again with py-spy on the TorchServe workers (direct, at the profile concurrency: which
    stage of a request costs most) and on the gunicorn workers (through the gateway at the probe:
    what the gateway spends its CPU on)."""
    plan = lab.plan
    c, seconds = plan.profile_concurrency, plan.profile_seconds
    lab.log(f"profiles: TorchServe workers at c={c}, gunicorn workers at c={plan.probe} (py-spy)")
    roles = lab.roles(ts, gw)
    workers = [p for name, p in roles.items() if name.startswith("worker")]
    cell, stages, errors = profile.sampled(workers, profile.WORKER_STAGES, False, seconds, lab.work, lambda: lab.cell(
        predictions(ts), c, roles, ts, "direct, profiled", seconds, 0.0))
    out = {"concurrency": c, "cell": cell, "worker_stages": stages, "errors": errors}
    gunicorn = [p for name, p in roles.items() if name.startswith("gunicorn worker")]
    cell, stages, errors = profile.sampled(gunicorn, profile.GATEWAY_STAGES, True, seconds, lab.work, lambda: lab.cell(
        f"{gw.url}/api/predict", plan.probe, roles, ts, "gateway, profiled", seconds, 0.0))
    out["gateway"] = {"concurrency": plan.probe, "cell": cell, "stages": stages, "errors": errors}
    return out


def gateway_sizes(lab: Lab, ts: TorchServe) -> list[dict]:
    """Gunicorn workers × threads, all up at once in front of the same TorchServe, measured in turn at
    c=1 and the probe, each followed by direct at the probe: every ratio compares loads seconds apart."""
    plan = lab.plan
    if not plan.gateways:
        return []
    lab.log(f"gateway sizes (workers, threads) {list(plan.gateways)}, {plan.rounds} rounds")
    pools = {(size, c): Pool(c) for size in plan.gateways for c in (1, plan.probe)}
    direct = {size: Pool(plan.probe) for size in plan.gateways}
    with ExitStack() as stack:
        gws = {(w, t): stack.enter_context(lab.gateway(f"gateway-{w}x{t}", ts, (w, t))) for w, t in plan.gateways}
        for _ in range(plan.rounds):
            for size, gw in gws.items():
                roles = lab.roles(ts, gw)
                for c in (1, plan.probe):
                    lab.round(pools[(size, c)], f"{gw.url}/api/predict", roles, ts)
                lab.round(direct[size], predictions(ts), roles, ts)
    return [{"workers": w, "threads": t,
             "cells": [lab.logged(pools[((w, t), c)], f"gateway {w}×{t}") for c in (1, plan.probe)],
             "direct": lab.logged(direct[(w, t)], "direct")} for w, t in plan.gateways]


def workers(lab: Lab, ts: TorchServe) -> list[dict]:
    """Worker counts, scaled through the management API in turn, direct at the probe."""
    plan = lab.plan
    pools = {n: Pool(plan.probe) for n in plan.workers}
    for _ in range(plan.rounds if plan.workers else 0):
        for n in plan.workers:
            lab.scale(ts, n)
            lab.round(pools[n], predictions(ts), lab.roles(ts), ts)
    return [{"workers": n, "threads": lab.defaults["torch_threads"], **lab.logged(pool, f"{n} worker(s)")}
            for n, pool in pools.items()]


def batching_rows(lab: Lab) -> list[tuple[int, int]]:
    """(batchSize, maxBatchDelay): each batch size with the shortest delay (none for batch 1), then
    the shipped batch size with every delay."""
    plan, shipped_size = lab.plan, lab.defaults["batchSize"]
    rows = [(bs, 0 if bs == 1 else min(plan.batch_delays)) for bs in plan.batch_sizes]
    rows += [(shipped_size, d) for d in plan.batch_delays if plan.batch_sizes and shipped_size > 1]
    return list(dict.fromkeys(rows))


def batching(lab: Lab) -> list[dict]:
    """Every batching setting in a TorchServe of its own, all up at once (idle ones cost next to
    nothing) and measured in turn."""
    plan, rows = lab.plan, batching_rows(lab)
    if not rows:
        return []
    lab.log(f"batching: {len(rows)} TorchServes (batchSize, maxBatchDelay) {rows}, {plan.rounds} rounds")
    pools = {(row, c): Pool(c) for row in rows for c in plan.batching_concurrencies}
    with ExitStack() as stack:
        servers = {(bs, d): stack.enter_context(lab.torchserve(f"batch-{bs}-{d}", batchSize=bs, maxBatchDelay=d))
                   for bs, d in rows}
        for _ in range(plan.rounds):
            for row, ts in servers.items():
                for c in plan.batching_concurrencies:
                    lab.round(pools[(row, c)], predictions(ts), lab.roles(ts), ts)
    return [{"batchSize": bs, "maxBatchDelay": d,
             "cells": [lab.logged(pools[((bs, d), c)], f"batch {bs}/{d} ms") for c in plan.batching_concurrencies]}
            for bs, d in rows]


def threads(lab: Lab) -> list[dict]:
    """Torch threads per worker: a TorchServe per (workers, threads), direct at the probe."""
    out = []
    for n, count in lab.plan.threads:
        lab.log(f"{n} worker(s) × {count} torch threads")
        with lab.torchserve(f"threads-{n}x{count}", env={"BDR_TORCH_THREADS": str(count)},
                            minWorkers=n, maxWorkers=n) as ts:
            cell = lab.cell(predictions(ts), lab.plan.probe, lab.roles(ts), ts, f"{n}×{count} threads")
            out.append({"workers": n, "threads": count, **cell})
    return out
