"""Non-digits for teaching and checking "not sure": Omniglot characters, Quick, Draw! sketches,
synthesised scribbles and characters rendered from fonts (numerals of other scripts, letters),
prepared exactly as digits are (canvas-style redraws, then the serving preprocessing), minus the
look-alikes that real digits would be refused with.

    python -m training.nondigits [--data ../shared/data] [--out runs/nondigits.npz]

Splits: Omniglot's background alphabets train, its evaluation alphabets (never trained on) validate;
Quick, Draw! every fifth image of each class validates; scribbles from seed 1 train, seed 2 validate;
the numerals of glyphs.VALIDATION_SCRIPTS validate, the other glyphs train.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from training import data, glyphs, redraw, scribbles

NONDIGITS_FILE = "nondigits_train.npz"
LOOKALIKES = Path(__file__).with_name("lookalikes.json")
QUICKDRAW = ("apple", "bicycle", "cat", "diamond", "eye", "fish")
# Look-alikes, found with the model before "not sure" (see lookalikes.json and the model card): an
# Omniglot character whose drawings that model read as one digit, at least 0.7 sure, in at least
# LOOKALIKE_SHARE of its drawings (raw and redrawn); a font glyph by the same rule over its fonts,
# weights and redraws; a Quick, Draw! image it read as ০ at least LOOKALIKE_RING sure (apples and
# eyes drawn as rings).
LOOKALIKE_SHARE = 0.75
LOOKALIKE_RING = 0.85
SCRIBBLE_SEEDS = {"train": 1, "validate": 2}
PEN = (0.08, 0.16)  # redraw pen, as a fraction of the shape's size: Omniglot's own pens are thin


def lookalike_chars() -> set[int]:
    return set(json.loads(LOOKALIKES.read_text())["omniglot_chars"])


def find_lookalikes(probs: np.ndarray, chars: np.ndarray) -> list[int]:
    """Characters whose drawings (rows of `probs`, one per drawing) are read as one digit, >= 0.7 sure,
    at least LOOKALIKE_SHARE of the time."""
    top, conf = probs.argmax(1), probs.max(1)
    out = []
    for c in np.unique(chars):
        m = chars == c
        majority = np.bincount(top[m], minlength=10).argmax()
        if ((top[m] == majority) & (conf[m] >= 0.7)).mean() >= LOOKALIKE_SHARE:
            out.append(int(c))
    return out


def prepared(images, desc: str) -> np.ndarray:
    """Serving preprocessing -> uint8 (N, 28, 28); images it refuses (blank, noise) are dropped, as the
    service would answer them 422 rather than a verdict."""
    x, kept = data.prepare_all(images, desc=desc)
    return (x[kept] * 255).round().astype(np.uint8)


def with_redraws(images: np.ndarray, seed: int, desc: str) -> np.ndarray:
    """The images as stored and once redrawn with a canvas-style pen, like the digits in training."""
    redrawn = redraw.redraw_all(images, seed, *PEN)
    return np.concatenate([prepared(images, desc), prepared(redrawn, f"{desc} redrawn")])


def glyph_sets() -> dict[str, np.ndarray]:
    """Font glyphs but look-alikes: the other scripts' numerals and letters train (as rendered and
    redrawn twice), VALIDATION_SCRIPTS' numerals validate (redrawn)."""
    images, scripts, chars = glyphs.render_all()
    skip = set(json.loads(LOOKALIKES.read_text())["glyphs"])
    ok = [f"U+{ord(c):04X}" not in skip for c in chars]
    held = [s in glyphs.VALIDATION_SCRIPTS for s in scripts]
    train = [im for im, k, h in zip(images, ok, held, strict=True) if k and not h]
    val = [im for im, k, h in zip(images, ok, held, strict=True) if k and h]
    return {
        "train_glyphs": np.concatenate([prepared(train, "glyphs"),
                                        prepared(redraw.redraw_all(train, 5, *PEN), "glyphs redrawn"),
                                        prepared(redraw.redraw_all(train, 6, *PEN), "glyphs redrawn")]),
        "val_glyphs": prepared(redraw.redraw_all(val, 7, *PEN), "held-out numerals redrawn"),
    }


def build(data_dir: Path) -> dict[str, np.ndarray]:
    with np.load(Path(data_dir) / NONDIGITS_FILE) as f:
        omni_x, omni_char, omni_set = f["omniglot_x"], f["omniglot_char"], f["omniglot_set"]
        qd_x = f["quickdraw_x"]
    skip = lookalike_chars()
    ok = ~np.isin(omni_char, sorted(skip))
    rings = set(json.loads(LOOKALIKES.read_text())["quickdraw_rows"])
    qd_ok = ~np.isin(np.arange(len(qd_x)), sorted(rings))
    qd_val = np.arange(len(qd_x)) % 5 == 4
    scrib_train, _ = scribbles.make(12000, seed=SCRIBBLE_SEEDS["train"])
    scrib_val, scrib_kind = scribbles.make(2000, seed=SCRIBBLE_SEEDS["validate"])
    out = {
        "train_omniglot": with_redraws(omni_x[ok & (omni_set == 0)], 1, "omniglot background"),
        "train_quickdraw": with_redraws(qd_x[qd_ok & ~qd_val], 2, "quickdraw"),
        "train_scribbles": prepared(scrib_train, "scribbles"),
    }
    val_omni = ok & (omni_set == 1)
    out["val_omniglot"] = prepared(omni_x[val_omni], "omniglot evaluation")
    out["val_omniglot_redrawn"] = prepared(redraw.redraw_all(omni_x[val_omni], 3, *PEN), "omniglot evaluation redrawn")
    out["val_quickdraw"] = prepared(redraw.redraw_all(qd_x[qd_ok & qd_val], 4, *PEN), "quickdraw held out")
    x, kept = data.prepare_all(scrib_val, desc="scribbles held out")
    out["val_scribbles"] = (x[kept] * 255).round().astype(np.uint8)
    out["val_scribbles_kind"] = scrib_kind[kept]
    out["val_scribbles_refused_422"] = np.array(int((~kept).sum()))
    return out | glyph_sets()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR,
                   help="(default: $BDR_DATA_DIR or ../shared/data)")
    p.add_argument("--out", type=Path, default=Path("runs/nondigits.npz"), help="(default: runs/nondigits.npz)")
    args = p.parse_args(argv)
    sets = build(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **sets)
    for k, v in sets.items():
        print(f"{k}: {v.shape}")


if __name__ == "__main__":
    main()
