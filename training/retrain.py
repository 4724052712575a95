"""Fine-tune the committed weights on the training data plus users' corrections, then gate: the new
weights are written only if no validation figure falls by more than --tolerance points and the
corrections are read better. The before/after table is printed either way.

    python -m training.retrain --feedback corrections.npz [--out runs/retrain/bengali_digit.pt]
    make retrain FEEDBACK=corrections.npz

corrections.npz is what `training.evaluate` reads: x (N, H, W) uint8 drawings, either polarity; y
(N,) digits 0-9 (`make feedback-export` writes one). The fine-tune is the committed recipe's last
stage (`make train`: --init, non-digits in every batch, --ood extra, --freeze-bn) with the
corrections repeated to --share of the training images; the temperature is then re-fitted on
canvas_val as training/calibrate.py fits it. The served threshold (handler/model-config.yaml) is
left alone: the candidate is judged at the threshold it would be served with.

Gated figures (training/gate.py), all read as served (refusals count as wrong): NumtaDB held-out
20 %, ISI held-out 10 %, canvas_val's ISI and NumtaDB halves, and the share of the held-out
non-digits (python -m training.nondigits) refused. Exit status 0: accepted, weights in --out;
3: refused, nothing written. The report, with every figure, goes to --run-dir/report.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bengali_digit import network
from bengali_digit.catalog import WEIGHTS
from training import calibrate, data, evaluate, gate, train
from training.calibration import fit_temperature
from training.metrics import format_table, logits_arrays

DigitSet = tuple[np.ndarray, np.ndarray, np.ndarray]  # prepared (N, 28, 28) in [0, 1], kept mask, labels
COPY_SIMILARITY = 0.99  # cosine of two prepared images above which one is taken for a copy of the other


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feedback", type=Path, required=True, help="the corrections: an npz of x, y")
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR,
                   help="(default: $BDR_DATA_DIR or ../shared/data)")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help="start from these (default: the committed)")
    p.add_argument("--nondigits", type=Path, default=Path("runs/nondigits.npz"),
                   help="non-digits, python -m training.nondigits: train_* train, val_* are gated "
                        "(default: runs/nondigits.npz)")
    p.add_argument("--out", type=Path, default=Path("runs/retrain/bengali_digit.pt"),
                   help="where accepted weights go (default: runs/retrain/bengali_digit.pt)")
    p.add_argument("--run-dir", type=Path, default=Path("runs/retrain"), help="report (default: runs/retrain)")
    p.add_argument("--tolerance", type=float, default=0.1, help="largest fall allowed, in points (default: 0.1)")
    p.add_argument("--epochs", type=int, default=1, help="(default: 1)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (default: 3e-4)")
    p.add_argument("--share", type=float, default=0.05,
                   help="share of the training images that are corrections, repeated (default: 0.05)")
    p.add_argument("--max-steps", type=int, default=0, help="stop the fine-tune after this many steps")
    p.add_argument("--train-limit", type=int, default=0, help="fine-tune on a seeded sample of this many rows")
    p.add_argument("--eval-limit", type=int, default=0, help="judge on a seeded sample of this many of each set")
    p.add_argument("--seed", type=int, default=0, help="(default: 0)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    args = p.parse_args(argv)
    if args.out.resolve() in (WEIGHTS.resolve(), args.weights.resolve()):
        p.error("--out must not be the weights it starts from: release new ones with make release instead")
    for path in (args.feedback, args.weights, args.nondigits):
        if not path.is_file():
            hint = " (make it: python -m training.nondigits --out runs/nondigits.npz)" if path == args.nondigits else ""
            p.error(f"{path} does not exist{hint}")
    return args


def load_corrections(path: Path) -> tuple[np.ndarray, DigitSet]:
    """(the drawings as stored, the same prepared as served): what the gate scores them on."""
    x, y = evaluate.load_set(str(path), data.DEFAULT_DATA_DIR)
    if not len(y) or y.min() < 0 or y.max() > 9:
        raise SystemExit(f"{path}: needs x and y, with at least one drawing and labels 0-9")
    prepared, kept = data.prepare_all(x, desc="preparing corrections")
    return np.asarray(x), (prepared, kept, y)


def digit_sets(data_dir: Path, limit: int, seed: int) -> tuple[dict[str, DigitSet], tuple[np.ndarray, np.ndarray]]:
    """({gated digit set: prepared}, all of canvas_val prepared: the temperature is fitted on it)."""
    sets = {}
    for name in (data.HELD_OUT_SETS["numta"], data.HELD_OUT_SETS["isi"]):
        x, y = evaluate.load_set(name, data_dir)
        rows = data.sample_rows(len(y), limit, seed)
        sets[name] = (*data.prepare_all(x[rows], desc=f"preparing {name}"), y[rows])
    canvas = calibrate.canvas_sets(data_dir)
    for name in ("canvas-isi", "canvas-numta"):
        x, y = canvas[name]
        rows = data.sample_rows(len(y), limit, seed)
        sets[name] = (x[rows], np.ones(len(rows), dtype=bool), y[rows])  # canvas_sets left out refusals
    return sets, canvas["canvas"]


def nondigit_sets(path: Path, limit: int, seed: int) -> dict[str, np.ndarray]:
    """The held-out non-digits, already through the preprocessing (as calibrate.py reads them)."""
    with np.load(path) as f:
        sets = {k[4:]: f[k] for k in f.files if k.startswith("val_") and f[k].ndim == 3}
    if not sets:
        raise SystemExit(f"{path} has no val_* non-digits")
    return {k: x[data.sample_rows(len(x), limit, seed)].astype(np.float32) / 255 for k, x in sets.items()}


def copies_of(corrections: np.ndarray, sets: dict[str, DigitSet]) -> np.ndarray:
    """Which corrections are (near) copies of an image the gate scores: trained on, they would
    inflate the very figures that judge the model. Redrawings by the same hand are not caught."""
    def unit(x: np.ndarray) -> np.ndarray:
        v = x.reshape(len(x), -1) - x.reshape(len(x), -1).mean(1, keepdims=True)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)

    mine = unit(corrections)
    copied = np.zeros(len(corrections), dtype=bool)
    for x, kept, _ in sets.values():
        copied |= (mine @ unit(x[kept]).T).max(1, initial=-1) >= COPY_SIMILARITY
    return copied


def fine_tune(args: argparse.Namespace, corrections: Path, save: Path) -> None:
    """The committed recipe's last stage (Makefile, train), with the corrections mixed in."""
    ckpt = torch.load(args.weights, map_location="cpu", weights_only=True)
    width = ckpt["arch_args"].get("width")
    train.main([
        "--data", str(args.data), "--init", str(args.weights), "--arch", ckpt["arch"],
        *(["--width", str(width)] if width else []),
        "--nondigits", str(args.nondigits), "--ood", "extra", "--freeze-bn",
        "--epochs", str(args.epochs), "--lr", str(args.lr), "--max-steps", str(args.max_steps),
        "--extra", str(corrections), "--extra-share", str(args.share), "--limit", str(args.train_limit),
        "--seed", str(args.seed), "--threads", str(args.threads),
        "--run-dir", str(args.run_dir / "fine-tune"), "--save", str(save)])
    (args.run_dir / "fine-tune" / "model.pt").unlink()  # uncalibrated: only `save` goes on


def calibrate_temperature(path: Path, like: Path, canvas: tuple[np.ndarray, np.ndarray]) -> float:
    """Fit the temperature on canvas_val (as training/calibrate.py does) into `path`'s meta, with the
    digit score of the weights it replaces."""
    logits = logits_arrays(network.load(path), canvas[0])[:, :10]
    temperature = fit_temperature(logits, canvas[1])
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    old = torch.load(like, map_location="cpu", weights_only=True)["meta"]
    ckpt["meta"].update(temperature=temperature, digit_score=old.get("digit_score", "msp"))
    torch.save(ckpt, path)
    return temperature


def figures(weights: Path, sets: dict[str, DigitSet], nondigits: dict[str, np.ndarray], who: str) -> dict:
    """{figure: {"n", "value", ...}} of one model, read as served at the served threshold."""
    served = evaluate.Served(weights)
    out = {}
    for name, (x, kept, y) in tqdm(sets.items(), desc=f"judging {who}", leave=False):
        result = evaluate.answers(y, *served.read_prepared(x, kept), served.threshold)
        out[name] = {"n": len(y), "value": result["accuracy"], "refused": result["refused"],
                     "per_class": result["per_class"]}
    refused = {k: ~served.classify(x)[1] for k, x in tqdm(nondigits.items(), desc=f"non-digits, {who}", leave=False)}
    pooled = np.concatenate(list(refused.values()))
    out["nondigits"] = {"n": len(pooled), "value": float(pooled.mean())}
    for k, r in refused.items():
        out[f"non-digits refused: {k}"] = {"n": len(r), "value": float(r.mean())}
    return out


def decide(args: argparse.Namespace, before: dict, after: dict, candidate: Path, report: dict) -> int:
    """Print the table and the verdict, write the report, and the weights if accepted."""
    why = gate.failures(before, after, args.tolerance)
    print(gate.table(before, after, args.tolerance))
    print("corrections per class, after:\n" + format_table(after[gate.CORRECTIONS]["per_class"]))
    report |= {"accepted": not why, "failures": why, "tolerance_pp": args.tolerance, "before": before,
               "after": after, "weights": None}
    if why:
        print("REFUSED: " + "; ".join(why) + ". Nothing written; the committed weights stay.")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(candidate.read_bytes())
        report["weights"] = str(args.out)
        print(f"ACCEPTED: no figure fell by more than {args.tolerance:.2f} pp and the corrections are read "
              f"better. New weights: {args.out} (next: make release VERSION=x.y WEIGHTS={args.out})")
    args.run_dir.mkdir(parents=True, exist_ok=True)
    (args.run_dir / "report.json").write_text(json.dumps(report, indent=1))
    print(f"report: {args.run_dir / 'report.json'}")
    return gate.REFUSED if why else gate.ACCEPTED


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    raw, (x, kept, y) = load_corrections(args.feedback)
    sets, canvas = digit_sets(args.data, args.eval_limit, args.seed)
    copied = copies_of(x[kept], sets)
    if copied.any():
        print(f"left out {copied.sum()} corrections that are copies of images the gate scores")
    keep = np.flatnonzero(kept)[~copied]
    if not len(keep):
        raise SystemExit(f"{args.feedback}: no correction is left to learn from (blank, noise or copies)")
    sets[gate.CORRECTIONS] = (x[keep], np.ones(len(keep), dtype=bool), y[keep])
    nondigits = nondigit_sets(args.nondigits, args.eval_limit, args.seed)
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "corrections": {
        "n": len(y), "refused_422": int((~kept).sum()), "copies_left_out": int(copied.sum())}}
    with tempfile.TemporaryDirectory() as tmp:
        learn, candidate = Path(tmp) / "corrections.npz", Path(tmp) / "candidate.pt"
        np.savez(learn, x=raw[keep], y=y[keep])
        fine_tune(args, learn, candidate)
        report["temperature"] = calibrate_temperature(candidate, args.weights, canvas)
        before = figures(args.weights, sets, nondigits, "the committed weights")
        after = figures(candidate, sets, nondigits, "the candidate")
        return decide(args, before, after, candidate, report)


if __name__ == "__main__":
    raise SystemExit(main())
