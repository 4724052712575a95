"""Training data: the packed 28×28 file in ../shared/data, or NumtaDB as Bengali.AI publishes it,
split as bengali_digit.catalog fixes it for every run and report."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from bengali_digit import catalog
from bengali_digit.limits import PreprocessError
from bengali_digit.preprocess import prepare

DEFAULT_DATA_DIR = Path(os.environ.get("BDR_DATA_DIR", catalog.ROOT.parent / "shared" / "data"))
PACKED_FILE = "bn_digits_train.npz"
CANVAS_FILE = "canvas_val.npz"
NUMTA_SOURCES = "abcde"
CANVAS_COLLECTIONS = ("isi", "numta")  # canvas_val.npz's `src`: 0 = redrawn from ISI, 1 = from NumtaDB
HELD_OUT_SETS = {c: f"{c}-{round(100 * share)}pct" for c, share in catalog.HELD_OUT.items()}  # set names


@dataclass
class Digits:
    """Raw images as stored (any size, either polarity) with labels; `src` is the NumtaDB source
    index (0 = a ... 4 = e) or -1 for ISI, `row` the image's row in its own collection."""

    x: list[np.ndarray] | np.ndarray
    y: np.ndarray
    src: np.ndarray
    row: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> Digits:
        x = self.x[idx] if isinstance(self.x, np.ndarray) else [self.x[i] for i in idx]
        return Digits(x, self.y[idx], self.src[idx], self.row[idx])


def concat(parts: list[Digits]) -> Digits:
    xs = [im for p in parts for im in p.x]
    same = len({im.shape for im in xs}) == 1
    return Digits(
        np.stack(xs) if same else xs,
        np.concatenate([p.y for p in parts]),
        np.concatenate([p.src for p in parts]),
        np.concatenate([p.row for p in parts]),
    )


def load_packed(path: Path) -> tuple[Digits, Digits]:
    """(NumtaDB a-d, ISI) from the packed npz described in ../shared/data/README.md."""
    d = np.load(path)
    numta = Digits(d["numta_x"], d["numta_y"].astype(np.int64), d["numta_src"].astype(np.int64),
                   np.arange(len(d["numta_y"])))
    isi = Digits(d["isi_x"], d["isi_y"].astype(np.int64), np.full(len(d["isi_y"]), -1),
                 np.arange(len(d["isi_y"])))
    return numta, isi


def load_numtadb(root: Path, sources: str = "abcd") -> Digits:
    """NumtaDB's published layout: `training-X/` folders of PNGs with `training-X.csv` files whose
    `filename` and `digit` columns label them. Images are kept at their own size and polarity."""
    xs, ys, srcs = [], [], []
    for s in sources:
        table = root / f"training-{s}.csv"
        if not table.exists():
            continue
        with open(table, newline="") as f:
            rows = list(csv.DictReader(f))
        for r in tqdm(rows, desc=f"NumtaDB training-{s}", leave=False):
            with Image.open(root / f"training-{s}" / r["filename"]) as im:
                xs.append(np.asarray(im.convert("L")))
            ys.append(int(r["digit"]))
            srcs.append(NUMTA_SOURCES.index(s))
    if not ys:
        raise FileNotFoundError(f"no training-[{sources}].csv under {root}")
    return Digits(xs, np.array(ys), np.array(srcs), np.arange(len(ys)))


def load_numta_and_isi(data: Path) -> tuple[Digits, Digits | None]:
    """`data` is the packed npz, a folder holding it, or a NumtaDB download (then there is no ISI)."""
    data = Path(data)
    packed = data if data.is_file() else data / PACKED_FILE
    if packed.is_file():
        return load_packed(packed)
    return load_numtadb(data), None


def split(collection: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows) of a collection of `n` images, as sorted index arrays: the
    catalog's share held out, by its seeded permutation."""
    perm = np.random.default_rng(catalog.SPLIT_SEED).permutation(n)
    cut = n - round(n * catalog.HELD_OUT[collection])
    return np.sort(perm[:cut]), np.sort(perm[cut:])


def sample_rows(n: int, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random `limit` of `n` rows; all of them when `limit` is 0 or >= n."""
    if not limit or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def canvas_rows(canvas) -> dict[str, set[int]]:
    """Per collection, the rows that canvas_val.npz (an opened npz, or None) redrew: never trained on."""
    rows: dict[str, set[int]] = {c: set() for c in CANVAS_COLLECTIONS}
    if canvas is not None:
        for src, row in zip(canvas["src"], canvas["index"], strict=True):
            rows[CANVAS_COLLECTIONS[int(src)]].add(int(row))
    return rows


def training_rows(collection: str, n: int, canvas: dict[str, set[int]],
                  held: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows that train, rows that validate) of a collection of `n`: the catalog's fixed split, or
    `held` when given (a whole NumtaDB source held out); canvas_val's rows never train either way."""
    train, val = split(collection, n) if held is None else (np.setdiff1d(np.arange(n), held), held)
    return np.array([i for i in train if i not in canvas[collection]], dtype=np.int64), val


def prepare_all(x, desc: str = "preprocessing") -> tuple[np.ndarray, np.ndarray]:
    """Run every image through the serving preprocessing. Returns (images (N, 28, 28), kept mask):
    the rare image the service would refuse as blank is dropped rather than guessed at."""
    out = np.zeros((len(x), 28, 28), dtype=np.float32)
    kept = np.ones(len(x), dtype=bool)
    for i, im in enumerate(tqdm(x, desc=desc, leave=False, mininterval=1)):
        try:
            out[i] = prepare(im)
        except PreprocessError:
            kept[i] = False
    return out, kept
