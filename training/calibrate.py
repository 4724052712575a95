"""Fit what turns the network's outputs into honest answers, and write it where serving reads it:
the temperature into the checkpoint's meta, the "not sure" threshold into handler/model-config.yaml.

    python -m training.calibrate [--weights weights/bengali_digit.pt] [--dry-run]

- Temperature: fitted (NLL) on canvas_val, the drawings most like the page's. Its ECE is reported
  cross-fitted (each random half scored with the temperature fitted on the other half), and checked
  on canvas-style redraws of the held-out splits, which no fit has seen.
- Threshold: the digit score that keeps --keep of canvas_val's ISI half, the half most like real
  drawings. Every score in bengali_digit.verdict.SCORES that the network has is compared on the
  held-out non-digits; --score picks the one that ships.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import torch

from bengali_digit import network, verdict
from bengali_digit.catalog import MODEL_CONFIG, WEIGHTS
from training import data, redraw
from training.calibration import auroc, ece, fit_temperature, nll, reliability, softmax, threshold_keeping
from training.metrics import logits_arrays
from training.plots import plot_reliability


def redrawn_held_out(data_dir: Path, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """The held-out NumtaDB and ISI rows (minus canvas_val's, fitted on), redrawn as the page draws."""
    numta, isi = data.load_packed(Path(data_dir) / data.PACKED_FILE)
    with np.load(Path(data_dir) / data.CANVAS_FILE) as f:
        redrawn = data.canvas_rows(f)
    parts = []
    for name, collection in (("numta", numta), ("isi", isi)):
        rows = [i for i in data.split(name, len(collection))[1] if int(i) not in redrawn[name]]
        parts.append(collection.subset(np.array(rows)))
    both = data.concat(parts)
    x, kept = data.prepare_all(redraw.redraw_all(both.x, seed=seed), desc="preparing redrawn held-out")
    return x[kept], both.y[kept]


def canvas_sets(data_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    with np.load(Path(data_dir) / data.CANVAS_FILE) as f:
        x, kept = data.prepare_all(f["x"], desc="preparing canvas_val")
        y, src = f["y"].astype(np.int64), f["src"]
    # a refused canvas image (none in practice) would be a 422, not a verdict: left out here
    return {"canvas": (x[kept], y[kept]), "canvas-isi": (x[kept & (src == 0)], y[kept & (src == 0)]),
            "canvas-numta": (x[kept & (src == 1)], y[kept & (src == 1)])}


def scores(logits: np.ndarray, temperature: float, method: str) -> np.ndarray:
    return verdict.digit_score(torch.from_numpy(logits), temperature, method).numpy()


def compare(model, temperature: float, canvas: dict, nondigits: dict, keep: float) -> dict:
    """For each digit score: threshold keeping `keep` of canvas-isi, the share of each non-digit set
    refused at it, AUROC against canvas-isi, and canvas accuracy with refusals counted wrong."""
    digit_logits = {k: logits_arrays(model, x) for k, (x, _) in canvas.items()}
    other_logits = {k: logits_arrays(model, x.astype(np.float32) / 255) for k, x in nondigits.items()}
    methods = [m for m in verdict.SCORES if m != "extra" or digit_logits["canvas"].shape[1] == 11]
    out = {}
    for m in methods:
        isi = scores(digit_logits["canvas-isi"], temperature, m)
        t = threshold_keeping(isi, keep)
        row = {"threshold": t, "refused": {}, "auroc": {}, "read_right": {}}
        for k, lg in other_logits.items():
            s = scores(lg, temperature, m)
            row["refused"][k] = float((s < t).mean())
            row["auroc"][k] = auroc(isi, s)
        for k, (_, y) in canvas.items():
            ok = (scores(digit_logits[k], temperature, m) >= t) & (digit_logits[k][:, :10].argmax(1) == y)
            row["read_right"][k] = float(ok.mean())
        out[m] = row
    return out


def cross_fitted(logits: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Calibrated probabilities of each half under the temperature fitted on the other half."""
    half = np.random.default_rng(seed).permutation(len(y)) < len(y) // 2
    probs = np.zeros_like(logits)
    for part in (half, ~half):
        probs[part] = softmax(logits[part], fit_temperature(logits[~part], y[~part]))
    return probs


def calibration_row(probs: np.ndarray, y: np.ndarray) -> dict:
    correct = probs.argmax(1) == y
    return {"ece": ece(probs.max(1), correct), "nll": nll(probs, y), "mean_confidence": float(probs.max(1).mean()),
            "accuracy": float(correct.mean()), "reliability": reliability(probs.max(1), correct)}


def write_threshold(value: float, path: Path = MODEL_CONFIG) -> None:
    text = path.read_text()
    new, n = re.subn(r"(not_sure_threshold:\s*)[0-9.eE+-]+", rf"\g<1>{value:.6g}", text)
    if n != 1:
        raise SystemExit(f"{path} has no single not_sure_threshold line to update")
    path.write_text(new)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=WEIGHTS,
                   help="(default: weights/bengali_digit.pt)")
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR,
                   help="(default: $BDR_DATA_DIR or ../shared/data)")
    p.add_argument("--nondigits", type=Path, default=Path("runs/nondigits.npz"),
                   help="held-out non-digits, python -m training.nondigits (default: runs/nondigits.npz)")
    p.add_argument("--score", choices=verdict.SCORES, default="extra", help="digit score to ship (default: extra)")
    p.add_argument("--keep", type=float, default=0.995, help="share of canvas-isi digits kept (default: 0.995)")
    p.add_argument("--out-dir", type=Path, default=Path("runs/calibration"),
                   help="report and plot (default: runs/calibration)")
    p.add_argument("--dry-run", action="store_true", help="report only; change neither weights nor config")
    args = p.parse_args(argv)

    model = network.load(args.weights)
    canvas = canvas_sets(args.data)
    logits = {name: logits_arrays(model, x)[:, :10] for name, (x, _) in canvas.items()}
    y_canvas = canvas["canvas"][1]
    temperature = fit_temperature(logits["canvas"], y_canvas)
    report: dict = {"temperature": temperature, "fitted_on": "canvas", "calibration": {}}
    for name, (_, y) in canvas.items():
        report["calibration"][name] = {"before": calibration_row(softmax(logits[name]), y),
                                       "after": calibration_row(softmax(logits[name], temperature), y)}
    report["calibration"]["canvas"]["after, cross-fitted"] = calibration_row(cross_fitted(logits["canvas"], y_canvas),
                                                                             y_canvas)
    x_check, y_check = redrawn_held_out(args.data)
    check = logits_arrays(model, x_check)[:, :10]
    report["calibration"]["redrawn-held-out"] = {"before": calibration_row(softmax(check), y_check),
                                                 "after": calibration_row(softmax(check, temperature), y_check)}
    with np.load(args.nondigits) as f:
        nondigits = {k[4:]: f[k] for k in f.files if k.startswith("val_") and f[k].ndim == 3}
    report["scores"] = compare(model, temperature, canvas, nondigits, args.keep)
    report["shipped_score"] = args.score
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "calibration.json").write_text(json.dumps(report, indent=1))
    plot_reliability(report["calibration"]["canvas"], args.out_dir / "reliability.png",
                     ("before", "after, cross-fitted"))
    print(json.dumps({k: v for k, v in report.items() if k != "calibration"}, indent=1))
    for name, row in report["calibration"].items():
        print(name + ": " + ", ".join(f"{k} ECE {v['ece']:.4f} NLL {v['nll']:.4f} accuracy {v['accuracy']:.4f}"
                                      for k, v in row.items()))
    if not args.dry_run:
        ckpt = torch.load(args.weights, map_location="cpu", weights_only=True)
        ckpt["meta"].update(temperature=temperature, digit_score=args.score)
        torch.save(ckpt, args.weights)
        write_threshold(report["scores"][args.score]["threshold"])
    return report


if __name__ == "__main__":
    main()
