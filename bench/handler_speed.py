"""The handler's canvas images per second, this working tree against an earlier commit's, side by side.

    python -m bench.handler_speed --baseline 3146b83 [--reference HEAD] [--rounds 5] [--seconds 3]

Each tree's handler (with its own weights and model-config.yaml) runs in a subprocess of its own
(two packages named bengali_digit cannot share a process), with one torch thread, fed the same
canvas PNGs (bench/canvas.py) in batches of 8 with a minimal stand-in for TorchServe's Context.
The trees take turns, the order swapped each round, so that a busy neighbour on a shared host slows
both alike; the ratio of each round, their median and spread are what to read. The answers of this
tree are held to those of `--reference` (the last commit by default, whose weights are the same):
the same digit and verdict for every drawing, probabilities within PROB_TOLERANCE. Baseline and
reference trees are exported with `git archive`; the driver below imports only from the tree it is
given, so it works with a handler of any age.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

# Not catalog.ROOT: this file also runs as the driver inside other trees, where importing this
# tree's bengali_digit would shadow theirs (see `drive`), so it imports nothing of the project.
ROOT = Path(__file__).resolve().parent.parent
BATCH = 8
PROB_TOLERANCE = 1e-4  # answers carry probabilities rounded to 6 places; this allows float reordering


class Context:
    """What a handler of any age touches in TorchServe's Context, doing nothing with responses."""

    def __init__(self, tree: Path):
        import yaml

        self.system_properties = {"model_dir": str(tree / "weights")}
        self.manifest = {"model": {"serializedFile": "bengali_digit.pt", "modelVersion": "bench"}}
        config_path = tree / "handler" / "model-config.yaml"
        config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
        self.model_yaml_config = {**config, "handler": {**config.get("handler", {}), "torch_threads": 1}}
        self.model_name = "bengali_digit"
        self.metrics = self

    def get_metric(self, *args, **kwargs):
        return self

    def add_or_update(self, *args, **kwargs) -> None:
        pass

    def add_time(self, *args, **kwargs) -> None:
        pass

    def set_response_content_type(self, *args) -> None:
        pass

    def set_response_header(self, *args) -> None:
        pass

    def set_response_status(self, *args) -> None:
        pass

    def get_request_header(self, *args) -> None:
        return None


def drive(tree: Path, bodies_path: Path) -> None:
    """The subprocess: load `tree`'s handler, then answer commands on stdin, one JSON line each:
    `answers` (every body once) or `run SECONDS` (images/s over batches of BATCH)."""
    os.environ.pop("BDR_TORCH_THREADS", None)
    sys.path.insert(0, str(tree))
    from handler.handler import BengaliDigitHandler

    bodies = pickle.loads(bodies_path.read_bytes())
    batches = [[{"body": bodies[(i * BATCH + j) % len(bodies)]} for j in range(BATCH)]
               for i in range(max(1, len(bodies) // BATCH))]
    handler, context = BengaliDigitHandler(), Context(tree)
    handler.initialize(context)
    for batch in batches[:2]:  # warm-up: first calls allocate
        handler.handle(batch, context)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "answers":
            rows = [{"body": b} for b in bodies]
            out = [a for i in range(0, len(rows), BATCH) for a in handler.handle(rows[i : i + BATCH], context)]
        else:
            images = done = 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < float(command[1]):
                [json.dumps(answer) for answer in handler.handle(batches[done % len(batches)], context)]
                images, done = images + BATCH, done + 1
            out = {"images_per_s": images / (time.perf_counter() - t0)}
        print(json.dumps(out), flush=True)


class Tree:
    """A driver subprocess for one tree."""

    def __init__(self, tree: Path, bodies_path: Path):
        env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, __file__, "--drive", str(tree), str(bodies_path)], cwd=tree,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, command: str):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"driver exited with {self.proc.wait()}")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def export(commit: str, into: Path) -> Path:
    """The commit's tree, as `git archive` writes it."""
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit], check=True,
                             capture_output=True).stdout
    tar_path = into.with_suffix(".tar")
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into


def compare(new: list[dict], ref: list[dict]) -> dict:
    """How far this tree's answers are from the reference's, drawing by drawing."""
    keys = ("error", "verdict", "digit", "best_guess")
    differ = [i for i, (a, b) in enumerate(zip(new, ref, strict=True)) if any(a.get(k) != b.get(k) for k in keys)]
    probs = [abs(p - q) for a, b in zip(new, ref, strict=True)
             for p, q in zip(a.get("probabilities", []), b.get("probabilities", []), strict=True)]
    worst = max(probs, default=0.0)
    return {"drawings": len(new), "different_answers": differ, "max_probability_difference": worst,
            "equal": not differ and worst <= PROB_TOLERANCE}


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", default="3146b83", help="commit whose handler is measured against this tree")
    p.add_argument("--reference", default="HEAD", help="commit whose answers this tree must give")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0, help="per tree per round")
    p.add_argument("--drawings", type=int, default=64)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "handler_speed.json")
    args = p.parse_args()
    from bench.canvas import canvas_pngs

    drawings = canvas_pngs(args.drawings)
    with tempfile.TemporaryDirectory() as tmp:
        bodies_path = Path(tmp) / "bodies.pickle"
        bodies_path.write_bytes(pickle.dumps([png for _, png in drawings]))
        baseline = export(args.baseline, Path(tmp) / "base")
        trees = {"new": Tree(ROOT, bodies_path), "baseline": Tree(baseline, bodies_path)}
        reference = Tree(export(args.reference, Path(tmp) / "ref"), bodies_path)
        try:
            answers = compare(trees["new"].ask("answers"), reference.ask("answers"))
            reference.close()
            rounds = []
            for r in range(args.rounds):
                order = ["baseline", "new"] if r % 2 == 0 else ["new", "baseline"]
                rate = {name: trees[name].ask(f"run {args.seconds}")["images_per_s"] for name in order}
                rounds.append({**rate, "ratio": rate["new"] / rate["baseline"]})
                print(f"round {r + 1}: baseline {rate['baseline']:6.1f}, new {rate['new']:6.1f} images/s, "
                      f"ratio {rounds[-1]['ratio']:.2f}", flush=True)
        finally:
            for tree in trees.values():
                tree.close()
    ratios = [r["ratio"] for r in rounds]
    result = {"baseline": args.baseline, "reference": args.reference, "batch": BATCH, "torch_threads": 1,
              "drawings": args.drawings, "seconds": args.seconds, "rounds": rounds,
              "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
              "answers": answers}
    print(f"ratio new / {args.baseline}: median {result['ratio_median']:.2f} "
          f"[{result['ratio_min']:.2f}-{result['ratio_max']:.2f}] over {len(ratios)} rounds; answers equal to "
          f"{args.reference}: {answers['equal']} (max probability difference "
          f"{answers['max_probability_difference']:.2g})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--drive":
        drive(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
