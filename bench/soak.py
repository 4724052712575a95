"""`make soak`: many mixed good and bad requests through the gateway; no 5xx, no worker lost, and
the memory of every process about where it was.

    python -m bench.soak [--requests 20000] [--concurrency 16] [--seed 6] [--out soak.json]

Starts its own TorchServe (the shipped config.properties, on free ports) and gateway on 127.0.0.1,
warms them up, records each process's memory, then sends `--requests` requests drawn at random from
good digits in every accepted format and the bad-input corpus (synthetic/bad_inputs.py), `--concurrency`
at a time. Every answer is checked against what that input should get. Bounded: each request has a
30 s limit and the whole run `--limit` seconds. Everything it started is stopped by PID. Exits 1
when any answer was a 5xx, a dropped connection or not the expected one, or a worker was replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import psutil

from bench.procs import gateway_roles, torchserve_roles
from handler.archive import build_archive
from service.gateway import Gateway
from service.processes import free_port
from service.torchserve import API_KEYS, TorchServe
from synthetic.bad_inputs import CASES, Raw, good_requests

TIMEOUT = aiohttp.ClientTimeout(total=30)
GOOD_SHARE = 0.5  # half the requests are good digits, the rest spread over the corpus
HEAVY_WEIGHT = 0.02  # multi-megabyte bodies, relative to another bad kind: present, not dominant


@dataclass(frozen=True)
class Item:
    label: str
    raw: Raw
    status: int
    code: str | None  # the error expected; None for a prediction
    digit: int | None


def good_items() -> list[Item]:
    return [Item(f"good {i % 6}", raw, 200, None, digit) for i, (raw, digit) in enumerate(good_requests())]


def plan(n: int, seed: int) -> list[Item]:
    """`n` requests: GOOD_SHARE good ones in every format, the rest the corpus's kinds, at random."""
    good = good_items()
    bad = [Item(case.name, case.request(), *case.gateway, case.digit) for case in CASES]
    weights = [HEAVY_WEIGHT if case.heavy else 1.0 for case in CASES]
    rng = random.Random(seed)
    n_good = round(n * GOOD_SHARE)
    items = rng.choices(good, k=n_good) + rng.choices(bad, weights=weights, k=n - n_good)
    rng.shuffle(items)
    return items


@dataclass
class Outcome:
    item: Item
    seconds: float
    status: int  # 0: no HTTP answer
    code: str  # the error in the JSON body, "" for a prediction, or the exception's name

    @property
    def expected(self) -> bool:
        return self.status == self.item.status and self.code == (self.item.code or "")


async def send_all(url: str, items: list[Item], concurrency: int, limit: float) -> list[Outcome]:
    """`concurrency` clients take the next item until none is left or `limit` seconds have passed."""
    queue = iter(items)
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + limit

    async def client(session: aiohttp.ClientSession) -> None:
        for item in queue:  # one shared iterator: each item goes to exactly one client
            if time.monotonic() > deadline:
                return
            t0 = time.perf_counter()
            status, code = 0, ""
            try:
                async with session.request(item.raw.method, url, data=item.raw.body,
                                           headers=item.raw.headers) as response:
                    status = response.status
                    answer = json.loads(await response.read())  # every answer of the gateway is JSON
                    if status == 200:
                        code = "" if answer.get("digit") == item.digit else f"digit {answer.get('digit')}"
                    else:
                        code = str(answer.get("error"))
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # no answer, or not JSON
                code = type(exc).__name__
            outcomes.append(Outcome(item, time.perf_counter() - t0, status, code))

    # one connection per client, kept alive, only ever to 127.0.0.1
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), timeout=TIMEOUT) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return outcomes


def memory(pids: dict[str, int]) -> dict[str, dict]:
    """USS, PSS and RSS (MiB) and PID of every process of the stacks led by `pids` ({"torchserve":
    launcher, "gateway": gunicorn master}). USS is what the process alone holds: where a leak shows,
    whatever the processes around it do. PSS shares each library page among its users (the processes'
    PSS add up to what they cost the host); RSS counts a shared page in each of them."""
    roles = {}
    if "torchserve" in pids:
        roles.update(torchserve_roles(pids["torchserve"]))
    if "gateway" in pids:
        roles.update(gateway_roles(pids["gateway"]))
    out = {}
    for name, proc in roles.items():
        try:
            info = proc.memory_full_info()
        except psutil.Error:  # gone between the listing and the reading
            continue
        out[name] = {"pid": proc.pid, **{f"{kind}_mib": round(getattr(info, kind) / 2**20, 1)
                                         for kind in ("uss", "pss", "rss")}}
    return out


def soak(url: str, pids: dict[str, int], n: int, concurrency: int, seed: int = 6, warmup: int = 1000,
         parts: int = 4, limit: float = 1800) -> dict:
    """Warm up, read memory, send `n` mixed requests to the gateway at `url` (127.0.0.1 only) in
    `parts`, reading memory after each (a leak climbs part after part; a warm heap levels off); the
    report as a dict."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the soak talks to 127.0.0.1 only")
    predict = f"{url}/api/predict"
    # the same mix first: fills caches, connection pools, allocator arenas and the JVM's heap, so
    # that growth after it means a leak rather than a process reaching its working size
    asyncio.run(send_all(predict, plan(warmup, seed + 1), concurrency, limit))
    before = memory(pids)
    items, outcomes, trend = plan(n, seed), [], []
    t0 = time.perf_counter()
    for part in range(parts):
        chunk = items[part * n // parts : (part + 1) * n // parts]
        outcomes += asyncio.run(send_all(predict, chunk, concurrency, limit - (time.perf_counter() - t0)))
        trend.append({name: m["uss_mib"] for name, m in memory(pids).items()})
    seconds = time.perf_counter() - t0
    after = memory(pids)

    ms = np.array([o.seconds for o in outcomes]) * 1000
    unexpected = Counter(f"{o.item.label}: got {o.status} {o.code}".strip() for o in outcomes if not o.expected)
    growth = {name: round(after[name]["uss_mib"] - before[name]["uss_mib"], 1) for name in before if name in after}
    replaced = sorted(name for name in before if name not in after or after[name]["pid"] != before[name]["pid"])
    return {
        "requests": len(outcomes), "planned": n, "concurrency": concurrency, "seconds": round(seconds, 1),
        "requests_per_s": round(len(outcomes) / seconds, 1),
        "latency_ms": {"p50": round(float(np.percentile(ms, 50)), 1), "p99": round(float(np.percentile(ms, 99)), 1),
                       "max": round(float(ms.max()), 1)},
        "server_errors_5xx": sum(o.status >= 500 for o in outcomes),
        "no_answer": sum(o.status == 0 for o in outcomes),
        "unexpected": dict(unexpected.most_common()),
        "good": sum(o.item.status == 200 for o in outcomes),
        "answers": dict(Counter(f"{o.status} {o.code}".strip() for o in outcomes).most_common()),
        "memory_before": before, "memory_after": after, "uss_growth_mib": growth, "uss_trend_mib": trend,
        "replaced_processes": replaced,
    }


def passed(report: dict) -> bool:
    return (report["requests"] == report["planned"] and report["server_errors_5xx"] == 0
            and report["no_answer"] == 0 and not report["unexpected"] and not report["replaced_processes"])


def summary(report: dict) -> str:
    ms = report["latency_ms"]
    lines = [f"{report['requests']} requests ({report['good']} for a prediction) at concurrency "
             f"{report['concurrency']} in {report['seconds']} s ({report['requests_per_s']}/s); "
             f"latency p50 {ms['p50']} ms, p99 {ms['p99']} ms, max {ms['max']} ms",
             f"5xx: {report['server_errors_5xx']}, no answer: {report['no_answer']}, "
             f"unexpected answers: {sum(report['unexpected'].values())} {report['unexpected'] or ''}",
             "answers: " + ", ".join(f"{k}: {v}" for k, v in report["answers"].items()),
             "memory (MiB): USS after the warm-up -> after each part; PSS and RSS before -> after"]
    nan = float("nan")
    for name, b in report["memory_before"].items():
        a = report["memory_after"].get(name, {})
        trend = " -> ".join(f"{t.get(name, nan):.1f}" for t in report["uss_trend_mib"])
        lines.append(f"  {name:18s} pid {b['pid']:>7}  USS {b['uss_mib']:.1f} -> {trend}  "
                     f"PSS {b['pss_mib']:.1f} -> {a.get('pss_mib', nan):.1f}  RSS {b['rss_mib']:.1f} -> "
                     f"{a.get('rss_mib', nan):.1f}")
    lines.append(f"replaced processes: {report['replaced_processes'] or 'none'}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=20_000, help="(default: 20000)")
    p.add_argument("--concurrency", type=int, default=16, help="(default: 16)")
    p.add_argument("--seed", type=int, default=6, help="(default: 6)")
    p.add_argument("--limit", type=float, default=1800, help="seconds the whole soak may take (default: 1800)")
    p.add_argument("--out", type=Path, help="also write the report as JSON here")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        build_archive(work / "model_store")
        ts = TorchServe(work / "torchserve", model_store=work / "model_store",
                        ports={key: free_port() for key in API_KEYS})
        with ts, Gateway(work / "gateway", ts.inference) as gw:
            gw.wait_ready("/readyz")
            print(f"soaking {gw.url} (TorchServe {ts.inference}) with {args.requests} requests", flush=True)
            report = soak(gw.url, {"torchserve": ts.process.pid, "gateway": gw.process.pid},
                          args.requests, args.concurrency, args.seed, limit=args.limit)
    print(summary(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    sys.exit(0 if passed(report) else 1)


if __name__ == "__main__":
    main()
