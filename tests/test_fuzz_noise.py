"""The noise check (bengali_digit.noise): its piece sizes and count of holes against a slow obvious
flood fill on any mask, every kind of random noise refused as no digit, and no real digit taken for
noise (the canvas drawings, and a tenth of the training digits)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bengali_digit.limits import PreprocessError
from bengali_digit.noise import corners, outline_corners, piece_sizes
from bengali_digit.preprocess import prepare
from tests.conftest import needs_shared_data
from tests.fuzzing import FUZZ, outcome


def flood_fill(mask: np.ndarray) -> tuple[list[int], int]:
    """The slow obvious way: piece sizes (8-connected, largest first) and holes (4-connected background
    not reaching the border), by breadth-first search."""
    h, w = mask.shape

    def regions(inside, steps):
        seen, found = np.zeros_like(inside), []
        for start in zip(*np.nonzero(inside), strict=True):
            if seen[start]:
                continue
            seen[start], queue, cells = True, [start], []
            while queue:
                y, x = queue.pop()
                cells.append((y, x))
                for dy, dx in steps:
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w and inside[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        queue.append((ny, nx))
            found.append(cells)
        return found

    eight = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    pieces = regions(mask, eight)
    gaps = regions(~mask, [(-1, 0), (1, 0), (0, -1), (0, 1)])
    holes = sum(all(0 < y < h - 1 and 0 < x < w - 1 for y, x in cells) for cells in gaps)
    return sorted((len(c) for c in pieces), reverse=True), holes


@FUZZ
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_pieces_and_holes_agree_with_a_flood_fill(mask):
    """The noise check's numpy labelling and its bit-quad count of holes, against breadth-first search."""
    sizes, holes = flood_fill(mask)
    assert piece_sizes(mask).tolist() == sizes
    convex, concave, diagonal = corners(mask)
    assert len(sizes) - (convex - concave - 2 * diagonal) // 4 == holes
    assert outline_corners(mask) == (convex + concave, diagonal)  # the quick test that every digit meets


def noise(kind: str, side: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform grey":
        return rng.integers(0, 256, (side, side), dtype=np.uint8)
    if kind == "uniform colour":
        return rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    if kind == "gaussian":
        return np.clip(rng.normal(128, 40, (side, side)), 0, 255).astype(np.uint8)
    density = int(kind.split()[-1]) / 100  # salt and pepper: black pixels at this density on white
    return np.where(rng.random((side, side)) < density, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("side", [64, 280, 1000])
@pytest.mark.parametrize("kind", ["uniform grey", "uniform colour", "gaussian", "salt and pepper 5",
                                  "salt and pepper 30", "salt and pepper 50", "salt and pepper 70"])
def test_random_noise_is_no_digit(kind, side):
    with pytest.raises(PreprocessError) as err:
        prepare(noise(kind, side, np.random.default_rng(side)))
    assert err.value.code == "no_digit" and err.value.status == 422


def test_no_real_digit_is_taken_for_noise():
    """The noise check refuses none of the canvas drawings and a tenth of the training digits."""
    from training import data

    needs_shared_data("bn_digits_train.npz")
    numta, isi = data.load_packed(data.DEFAULT_DATA_DIR / data.PACKED_FILE)
    with np.load(data.DEFAULT_DATA_DIR / data.CANVAS_FILE) as f:
        canvas = f["x"]
    for images in (canvas, numta.x[::10], isi.x[::10]):
        for image in images:
            assert outcome(prepare, image) == "ok"
