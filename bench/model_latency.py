"""CPU latency of the committed network: forward only, and preprocessing + forward, per batch size.

    python -m bench.model_latency [--threads 1] [--weights weights/bengali_digit.pt]

Reports the median of several timed rounds (the machine is shared and noisy; the median of rounds
is steadier than a mean).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from bench.canvas import canvas_pngs
from bengali_digit import network
from bengali_digit.catalog import WEIGHTS
from bengali_digit.preprocess import prepare_bytes


def time_per_call(fn, calls: int, rounds: int = 7) -> float:
    """Median over rounds of the mean seconds per call."""
    fn()
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - t0) / calls)
    return statistics.median(results)


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=WEIGHTS)
    p.add_argument("--threads", type=int, default=1, help="torch threads, as one serving worker (default: 1)")
    p.add_argument("--batch-sizes", default="1,8,32", help="(default: 1,8,32)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = network.load(args.weights)
    pngs = [png for _, png in canvas_pngs(64)]
    prepared = np.stack([prepare_bytes(b) for b in pngs])
    result = {"threads": args.threads, "parameters": sum(q.numel() for q in model.parameters()), "batches": {}}
    with torch.inference_mode():
        for bs in map(int, args.batch_sizes.split(",")):
            x = torch.from_numpy(prepared[:bs])[:, None]
            forward = time_per_call(lambda x=x: model(x), max(20, 400 // bs))
            def serve_batch(bs: int = bs) -> torch.Tensor:
                return model(torch.from_numpy(np.stack([prepare_bytes(b) for b in pngs[:bs]]))[:, None])

            full = time_per_call(serve_batch, max(5, 100 // bs))
            result["batches"][bs] = {"forward_ms": forward * 1e3, "preprocess_and_forward_ms": full * 1e3,
                                     "images_per_s": bs / full}
            print(f"batch {bs:>3}: forward {forward * 1e3:7.3f} ms, preprocessing + forward {full * 1e3:7.3f} ms "
                  f"({bs / full:7.0f} images/s)")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
