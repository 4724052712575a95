"""What the served model answers on any labelled set, through the same preprocessing and verdict as
the handler: accuracy (refusals count as wrong), share refused, calibration; and with --nondigits,
how much of a set of non-digits it refuses.

    python -m training.evaluate file.npz [--out result.json]   # x: (N, H, W) uint8, any polarity; y: (N,)
    python -m training.evaluate canvas                          # a named set from ../shared/data
    python -m training.evaluate canvas-isi --nondigits other.npz   # x, optional src: per-source refusal

Named sets: canvas, canvas-isi, canvas-numta (canvas_val.npz), numta-20pct, isi-10pct (the held-out
splits the committed model never trained on), numta-a ... numta-d (whole NumtaDB sources).
A refusal is either a 422 (blank, noise: the preprocessing refuses it) or a "not_a_digit" verdict.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import yaml

from bengali_digit import network, verdict
from bengali_digit.catalog import MODEL_CONFIG, WEIGHTS
from training import data
from training.calibration import auroc, ece, threshold_keeping
from training.metrics import confusion_matrix, format_table, logits_arrays, per_class

NAMED_SETS = ["canvas", "canvas-isi", "canvas-numta", *data.HELD_OUT_SETS.values(),
              *(f"numta-{s}" for s in "abcd")]


def load_set(name: str, data_dir: Path) -> tuple[np.ndarray | list, np.ndarray]:
    """(images, labels) of a named set or of an npz file with `x` and `y`."""
    if name not in NAMED_SETS:
        with np.load(name) as f:
            return f["x"], f["y"].astype(np.int64)
    if name.startswith("canvas"):
        with np.load(data_dir / data.CANVAS_FILE) as f:
            x, y, src = f["x"], f["y"].astype(np.int64), f["src"]
        keep = {"canvas": src >= 0, "canvas-isi": src == 0, "canvas-numta": src == 1}[name]
        return x[keep], y[keep]
    numta, isi = data.load_packed(data_dir / data.PACKED_FILE)
    for collection, digits in (("numta", numta), ("isi", isi)):
        if name == data.HELD_OUT_SETS[collection]:
            held = digits.subset(data.split(collection, len(digits))[1])
            return held.x, held.y
    part = numta.subset(np.flatnonzero(numta.src == data.NUMTA_SOURCES.index(name[-1])))
    return part.x, part.y


class Served:
    """The committed network with its calibration and the threshold the handler would use."""

    def __init__(self, weights: Path = WEIGHTS, threshold: float | None = None, in_numbers: bool = False):
        self.model, meta = network.load_with_meta(weights)
        self.temperature = float(meta.get("temperature", 1.0))
        self.method = meta.get("digit_score", "msp")
        config = yaml.safe_load(MODEL_CONFIG.read_text())["handler"]
        self.threshold = verdict.threshold(config, in_numbers) if threshold is None else threshold

    def classify(self, prepared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prepared images -> (calibrated probabilities, is a digit, digit score): what
        `bengali_digit.number.read_number` asks of the network."""
        logits = torch.from_numpy(logits_arrays(self.model, prepared))
        return verdict.classify(logits, self.temperature, self.method, self.threshold)

    def read(self, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(kept by preprocessing, calibrated probabilities (N, 10), digit scores), -inf where refused."""
        return self.read_prepared(*data.prepare_all(x, desc="preprocessing"))

    def read_prepared(self, prepared: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`read` of images already through the preprocessing (`data.prepare_all`'s output)."""
        probs = np.zeros((len(kept), 10), np.float32)
        scores = np.full(len(kept), -np.inf, np.float32)
        if kept.any():
            probs[kept], _, scores[kept] = self.classify(prepared[kept])
        return kept, probs, scores


def evaluate(x, y: np.ndarray, served: Served) -> dict:
    return answers(y, *served.read(x), served.threshold)


def answers(y: np.ndarray, kept: np.ndarray, probs: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """The figures of `evaluate` from what `Served.read` returned."""
    answered = scores >= threshold
    pred = np.where(answered, probs.argmax(1), -1)
    confusion = confusion_matrix(y, np.where(answered, pred, 10), columns=11)  # last column: refused
    right = probs.argmax(1) == y
    return {
        "n": len(y),
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "accuracy_refusals_aside": float(right[kept].mean()) if kept.any() else float("nan"),
        "refused": float((~answered).mean()) if len(y) else float("nan"),
        "refused_422": int((~kept).sum()),
        "ece": ece(probs[kept].max(1), right[kept]) if kept.any() else float("nan"),
        "threshold": threshold,
        "per_class": per_class(confusion),
        "confusion": confusion.tolist(),
        "scores": scores,
    }


def evaluate_nondigits(path: Path, digit_scores: np.ndarray, served: Served) -> dict:
    """Share refused, per source (`src`) when the file has one; AUROC against the digit set's scores,
    and the share refused at the threshold that keeps 99 % of those digits."""
    with np.load(path) as f:
        x = f["x"]
        src = f["src"] if "src" in f.files else np.zeros(len(x), dtype=np.int64)
    _, _, scores = served.read(x)
    at_99 = threshold_keeping(digit_scores, 0.99)
    out = {"n": len(x), "refused": float((scores < served.threshold).mean()), "auroc": auroc(digit_scores, scores),
           "refused_at_99pct_kept": float((scores < at_99).mean()), "by_source": {}}
    for s in np.unique(src):
        m = src == s
        out["by_source"][str(s)] = {"n": int(m.sum()), "refused": float((scores[m] < served.threshold).mean())}
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="an .npz with x and y, or a named set: " + ", ".join(NAMED_SETS))
    p.add_argument("--data-dir", type=Path, default=data.DEFAULT_DATA_DIR,
                   help="where named sets live (default: $BDR_DATA_DIR or ../shared/data)")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help="(default: weights/bengali_digit.pt)")
    p.add_argument("--nondigits", type=Path, help="an .npz of non-digits: x, optional src")
    p.add_argument("--threshold", type=float, help="digit score threshold (default: as served, model-config.yaml)")
    p.add_argument("--out", type=Path, help="write the result as JSON here")
    args = p.parse_args(argv)
    served = Served(args.weights, args.threshold)
    x, y = load_set(args.data, args.data_dir)
    result = evaluate(x, y, served)
    digit_scores = result.pop("scores")
    print(f"{args.data}: {result['accuracy']:.4%} read right of {result['n']} (refusals count as wrong; "
          f"{result['accuracy_refusals_aside']:.4%} refusals aside), {result['refused']:.2%} refused "
          f"({result['refused_422']} as blank or noise), ECE {result['ece']:.2%}")
    print(format_table(result["per_class"]))
    if args.nondigits:
        result["nondigits"] = nd = evaluate_nondigits(args.nondigits, digit_scores, served)
        print(f"{args.nondigits}: {nd['refused']:.2%} of {nd['n']} refused; AUROC {nd['auroc']:.4f}; "
              f"{nd['refused_at_99pct_kept']:.2%} refused at the threshold keeping 99 % of {args.data}")
        for s, row in nd["by_source"].items():
            print(f"  src {s}: {row['refused']:.2%} of {row['n']} refused")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
