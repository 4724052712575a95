"""Accuracy of a checkpoint on any labelled set, through the same preprocessing as the handler.

    python -m training.evaluate file.npz [--out result.json]   # x: (N, H, W) uint8, any polarity; y: (N,)
    python -m training.evaluate canvas                          # a named set from ../shared/data

Named sets: canvas, canvas-isi, canvas-numta (canvas_val.npz), numta-20pct, isi-10pct (the held-out
splits the committed model never trained on), numta-a ... numta-d (whole NumtaDB sources).
Images the service would refuse (blank) count as errors.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bengali_digit import network
from training import data
from training.metrics import confusion_matrix, format_table, per_class, predict_arrays

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "bengali_digit.pt"
NAMED_SETS = ["canvas", "canvas-isi", "canvas-numta", "numta-20pct", "isi-10pct",
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
    if name == "numta-20pct":
        held = numta.subset(data.random_split(len(numta), 0.2)[1])
        return held.x, held.y
    if name == "isi-10pct":
        held = isi.subset(data.random_split(len(isi), 0.1)[1])
        return held.x, held.y
    part = numta.subset(np.flatnonzero(numta.src == data.NUMTA_SOURCES.index(name[-1])))
    return part.x, part.y


def evaluate(x, y: np.ndarray, weights: Path = DEFAULT_WEIGHTS) -> dict:
    model = network.load(weights)
    prepared, kept = data.prepare_all(x, desc="preprocessing")
    pred = np.full(len(y), -1, dtype=np.int64)
    if kept.any():
        pred[kept] = predict_arrays(model, prepared[kept]).argmax(1)
    confusion = confusion_matrix(y[kept], pred[kept])
    return {
        "n": len(y),
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "refused": int((~kept).sum()),
        "per_class": per_class(confusion),
        "confusion": confusion.tolist(),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="an .npz with x and y, or a named set: " + ", ".join(NAMED_SETS))
    p.add_argument("--data-dir", type=Path, default=data.DEFAULT_DATA_DIR,
                   help="where named sets live (default: $BDR_DATA_DIR or ../shared/data)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="(default: weights/bengali_digit.pt)")
    p.add_argument("--out", type=Path, help="write the result as JSON here")
    args = p.parse_args(argv)
    x, y = load_set(args.data, args.data_dir)
    result = evaluate(x, y, args.weights)
    print(f"{args.data}: accuracy {result['accuracy']:.4%} on {result['n']} images"
          f" ({result['refused']} refused as blank)")
    print(format_table(result["per_class"]))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
