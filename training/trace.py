"""28×28 digits traced into pen strokes, as canvas_val_strokes.json was made (binarised, thinned,
traced), so that numbers can also be composed from digits no model has trained on: the held-out 10 %
of ISI. A second validation of the number reader beside canvas_val's 1,000 ISI drawings.

    python -m training.trace --out runs/isi-held-out-strokes.json
    make evaluate-numbers STROKES=runs/isi-held-out-strokes.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from synthetic.strokes import ink_strokes
from training import data
from training.redraw import UPSCALE


def held_out_isi(data_dir: Path) -> list[dict]:
    """The ISI images no model trains on, upscaled as the redrawn training copies are and traced,
    as canvas_val_strokes.json's items."""
    _, isi = data.load_numta_and_isi(data_dir)
    if isi is None:
        raise FileNotFoundError(f"no ISI digits under {data_dir} (the packed {data.PACKED_FILE})")
    _, rows = data.split("isi", len(isi))
    items = []
    for row in tqdm(rows, desc="tracing", mininterval=1):
        image = Image.fromarray(isi.x[row])
        big = image.resize((image.width * UPSCALE, image.height * UPSCALE), Image.Resampling.BILINEAR)
        if strokes := ink_strokes(np.asarray(big) > 127):
            items.append({"name": f"isi-{row}", "label": int(isi.y[row]), "src": 0, "index": int(row),
                          "strokes": [[[round(x, 1), round(y, 1)] for x, y in s] for s in strokes]})
    return items


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR, help="the packed npz or its folder")
    p.add_argument("--out", type=Path, default=Path("runs/isi-held-out-strokes.json"),
                   help="(default: runs/isi-held-out-strokes.json)")
    args = p.parse_args(argv)
    items = held_out_isi(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(items))
    print(f"{len(items)} held-out ISI digits traced into {args.out}")


if __name__ == "__main__":
    main()
