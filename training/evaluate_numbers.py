"""Whole-number accuracy of the number reader (bengali_digit.number) with the served digit model, on
numbers composed from canvas_val's pen strokes, or any file in its format such as ISI's held-out
digits traced by training/trace.py (composed by training/numbers.py): per spacing regime, per
length, overall. A number is right only if every digit is read and the string equals the label; a
"not sure" digit or a refusal (PreprocessError) counts as wrong. Each number is read as the page sends
it, the picture with the strokes it was drawn in, or with --pictures-only as a picture alone (what a
client that keeps no strokes sends).

    python -m training.evaluate_numbers [--per-regime 300] [--seed 0] [--src 0|1] [--pictures-only] [--out F]

A failure is listed with its regime, index and seed: `numbers.number_at(drawings, regime, index,
seed)` makes it again (with the same --strokes and --src).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from bengali_digit.catalog import WEIGHTS
from bengali_digit.limits import PreprocessError
from bengali_digit.number import read_number
from training import data, numbers
from training.evaluate import Served

STROKES_FILE = "canvas_val_strokes.json"
MAX_FAILURES = 30  # listed per regime: enough to look at, not the whole set


def read(number: numbers.Number, served: Served, strokes: bool = True) -> tuple[str | None, str | None]:
    """(the digit string read or None when a digit is "not sure", the refusal's code or None)."""
    try:
        return read_number(number.image, served.classify, number.strokes if strokes else None)["number"], None
    except PreprocessError as e:  # blank, noise, too many digits: wrong, but counted apart
        return None, e.code


def accuracy(rows: list[dict]) -> dict:
    right = sum(r["read"] == r["label"] for r in rows)
    return {"n": len(rows), "right": right, "accuracy": right / len(rows) if rows else float("nan"),
            "not_sure": sum(r["read"] is None and r["refused"] is None for r in rows),
            "refused": sum(r["refused"] is not None for r in rows)}


def summarize(rows: list[dict]) -> dict:
    by: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by["regime"][r["regime"]].append(r)
        by["length"][r["length"]].append(r)
        by["regime_length"][f"{r['regime']} {r['length']}"].append(r)
    failures = [r for r in rows if r["read"] != r["label"]]
    return {"overall": accuracy(rows),
            **{f"per_{key}": {str(k): accuracy(v) for k, v in sorted(groups.items())} for key, groups in by.items()},
            "failures": [f for regime in numbers.REGIMES for f in [f for f in failures if f["regime"] == regime]
                         [:MAX_FAILURES]]}


def print_summary(result: dict) -> None:
    o = result["overall"]
    print(f"overall: {o['accuracy']:.2%} of {o['n']} numbers read right "
          f"({o['not_sure']} with a not-sure digit, {o['refused']} refused)")
    lengths = sorted(result["per_length"], key=int)
    print(f"{'regime':<10}{'all':>8}" + "".join(f"{'len ' + k:>9}" for k in lengths))
    for regime, row in result["per_regime"].items():
        cells = [result["per_regime_length"].get(f"{regime} {k}") for k in lengths]
        print(f"{regime:<10}{row['accuracy']:>8.1%}" + "".join(f"{c['accuracy']:>9.1%}" if c else f"{'':>9}"
                                                             for c in cells))
    print(f"{'all':<10}{o['accuracy']:>8.1%}" + "".join(f"{result['per_length'][k]['accuracy']:>9.1%}"
                                                        for k in lengths))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strokes", type=Path, default=data.DEFAULT_DATA_DIR / STROKES_FILE,
                   help=f"single-digit strokes (default: {STROKES_FILE} in $BDR_DATA_DIR or ../shared/data)")
    p.add_argument("--per-regime", type=int, default=300, help="numbers per regime, lengths 1-6 evenly (default: 300)")
    p.add_argument("--seed", type=int, default=0, help="the set; another seed is another held-out set (default: 0)")
    p.add_argument("--src", type=int, choices=(0, 1), help="strokes redrawn from 0 = ISI, 1 = NumtaDB (default: both)")
    p.add_argument("--pictures-only", action="store_true", help="read the pictures without their strokes")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help="(default: weights/bengali_digit.pt)")
    p.add_argument("--out", type=Path, default=Path("runs/numbers.json"), help="(default: runs/numbers.json)")
    args = p.parse_args(argv)
    served = Served(args.weights, in_numbers=True)
    source = numbers.load_strokes(args.strokes, args.src)
    made = numbers.generate(source, args.per_regime, args.seed)
    total = args.per_regime * len(numbers.REGIMES)
    rows = []
    index: dict[str, int] = defaultdict(int)
    for number in tqdm(made, total=total, desc="reading numbers"):
        answer, refused = read(number, served, strokes=not args.pictures_only)
        rows.append({"label": number.label, "read": answer, "refused": refused, "regime": number.regime,
                     "length": number.length, "index": index[number.regime], "seed": args.seed})
        index[number.regime] += 1
    result = {"strokes": str(args.strokes), "src": args.src, "seed": args.seed, "numbers_per_regime": args.per_regime,
              "read_from": "pictures" if args.pictures_only else "pictures and strokes",
              **summarize(rows)}
    print_summary(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"written to {args.out}")
    return result


if __name__ == "__main__":
    main()
