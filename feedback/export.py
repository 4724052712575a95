"""Corrections as a labelled set for `make evaluate DATA=file.npz` (training.evaluate): `x` (N, 280,
280) uint8, dark ink on white, and `y` (N,) the digit each person says they drew; the format of
../shared/data/canvas_val.npz, so the numbers compare with `make evaluate DATA=canvas`. Also `id`
(the rows', to look one up with feedback.review) and `predicted` (-1 where the model gave none).

Each drawing is the image as the service read it (decoded and made gray by bengali_digit.preprocess,
transparency composited the same way), placed on its background in the middle of 280×280: the page
sends the part of its 280 px image that holds the ink, which goes in as it is; a larger image is
scaled to fit first. The preprocessing crops the background away again.
Reads the database directly: works with the service stopped.

    python -m feedback.export OUT.npz [--accepted-only]    # make feedback-export OUT=file.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from sqlalchemy.exc import SQLAlchemyError

from bengali_digit.limits import PreprocessError
from bengali_digit.preprocess import border, decode_pixels, to_gray
from feedback import settings
from feedback.migrate import shown, upgrade
from feedback.store import Store, Unavailable

SIDE = 280  # the drawing page's image, and canvas_val.npz's


def drawing(image: bytes) -> np.ndarray:
    """A kept image as a SIDE×SIDE uint8 gray drawing; PreprocessError for one the service cannot read."""
    gray = np.clip(np.rint(to_gray(decode_pixels(image))), 0, 255).astype(np.uint8)
    background = int(np.median(border(gray)))
    if max(gray.shape) > SIDE:
        return np.asarray(ImageOps.pad(Image.fromarray(gray), (SIDE, SIDE), color=background), dtype=np.uint8)
    # not scaled: the network's input stays the one the service computed (it ignores where the ink is)
    (h, w), out = gray.shape, np.full((SIDE, SIDE), background, dtype=np.uint8)
    top, left = (SIDE - h) // 2, (SIDE - w) // 2
    out[top : top + h, left : left + w] = gray
    return out


def export(store: Store, out: Path, statuses: tuple[str, ...] = ("new", "accepted")) -> int:
    """Write the corrections of these statuses to `out`; how many. Images the service could not read
    (kept before a check changed) are left out, and said so."""
    n = store.count_kept(statuses)
    x = np.empty((n, SIDE, SIDE), np.uint8)
    y, ids, predicted = (np.empty(n, np.int64) for _ in range(3))
    i = 0
    for id, label, guess, image in store.kept(statuses):
        if i == n:  # rows added while we read: the next export takes them
            break
        try:
            x[i] = drawing(image)
        except PreprocessError as err:
            print(f"correction {id} left out: {err.message}", file=sys.stderr)
            continue
        y[i], ids[i], predicted[i] = label, id, -1 if guess is None else guess
        i += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, x=x[:i], y=y[:i], id=ids[:i], predicted=predicted[:i])
    return i


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="the .npz to write")
    p.add_argument("--accepted-only", action="store_true", help="only corrections a person accepted "
                   "(default: every one not rejected)")
    settings.add_database_options(p)
    args = p.parse_args(argv)
    url = settings.url_from_args(args)
    store = Store(url)
    try:
        upgrade(url)
        n = export(store, args.out, ("accepted",) if args.accepted_only else ("new", "accepted"))
    except (Unavailable, SQLAlchemyError, OSError) as err:
        sys.exit(f"cannot read corrections from {shown(url)}: {err}")
    finally:
        store.dispose()
    print(f"{n} corrections written to {args.out} (x: {n}×{SIDE}×{SIDE} uint8, y: labels): "
          f"make evaluate DATA={args.out}")
    return n


if __name__ == "__main__":
    main()
