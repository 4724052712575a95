"""`make bench`: how fast the service is, where the time goes, and which defaults the data picks.

    python -m bench.run [--out-dir docs] [--seconds 4] [--smoke]

In one run, on 127.0.0.1 only, each configuration in a TorchServe of its own (free ports, its own
archive built from the committed weights, stopped by PID): the in-process limit (one process, and
two at once), TorchServe direct and through the gateway at several concurrencies for digits, numbers
and drawings of no digit, batching, workers and torch threads, gateway sizes, PSS memory idle and
under load, start-up time, and py-spy profiles (bench/experiments.py, over the helper in
bench/lab.py). The host is shared and noisy, so configurations are compared as
ratios within the run. Every load is closed loop and stops at its deadline, so a run is bounded;
its wall time is in docs/benchmarks.md, *This run*.

Writes benchmarks.json, benchmarks.png and the generated part of benchmarks.md into --out-dir.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import tempfile
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import psutil
from PIL import Image

from bench import canvas, experiments, report
from bench.lab import SMOKE, Bodies, Lab, Plan
from bengali_digit.catalog import ROOT


def measure(lab: Lab) -> dict:
    """Every experiment, in the order of benchmarks.json."""
    results: dict = {"meta": meta(lab.plan), "defaults": lab.defaults, "payloads": payload_facts(lab.bodies)}
    results |= experiments.in_process(lab)
    results |= experiments.shipped(lab)
    results["batching"] = experiments.batching(lab)
    results["threads"] = experiments.threads(lab)
    results["wall_s"] = round(time.monotonic() - lab.t0, 1)
    return results


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
    sides = Counter(canvas.kind(Image.open(io.BytesIO(b)).size[0]) for _, b in bodies)
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
        results = measure(Lab(plan, Path(work)))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "benchmarks.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    report.write(results, args.out_dir)
    print(f"wrote {args.out_dir}/benchmarks.json, benchmarks.md, benchmarks.png in {results['wall_s']} s")
    return results


if __name__ == "__main__":
    main()
