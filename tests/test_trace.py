"""training/trace.py: held-out ISI digits traced into pen strokes for composing numbers. A small
packed file made here from a Bengali font stands in for ../shared's, so no shared data is needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage.morphology import skeletonize

from synthetic.digit_images import bengali_fonts, render_digit
from synthetic.strokes import draw
from training import data
from training.redraw import UPSCALE
from training.trace import held_out_isi

N_ISI = 40


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> tuple[np.ndarray, np.ndarray, Path]:
    """(ISI images 28×28 ink 255 on 0, their labels, the packed file), digits in turn."""
    font = bengali_fonts()[0]
    y = np.arange(N_ISI) % 10
    x = np.stack([np.where(np.asarray(ImageOps.invert(render_digit(int(d), font, 24, (14, 14), stroke=1, size=28)))
                           > 127, 255, 0).astype(np.uint8) for d in y])
    path = tmp_path_factory.mktemp("data") / data.PACKED_FILE
    np.savez(path, numta_x=x[:1], numta_y=y[:1], numta_src=np.zeros(1, np.uint8), isi_x=x, isi_y=y)
    return x, y, path


def test_only_held_out_rows_with_their_labels(packed):
    _, y, path = packed
    items = held_out_isi(path)
    _, held = data.split("isi", N_ISI)
    assert [it["index"] for it in items] == held.tolist()
    assert [it["label"] for it in items] == y[held].tolist()


def test_strokes_trace_the_ink(packed):
    x, _, path = packed
    for item in held_out_isi(path):
        upscaled = Image.fromarray(x[item["index"]]).resize((28 * UPSCALE, 28 * UPSCALE), Image.Resampling.BILINEAR)
        big = np.asarray(upscaled) > 127
        points = np.array([p for s in item["strokes"] for p in s])
        assert big[points[:, 1].astype(int), points[:, 0].astype(int)].mean() > 0.95  # on the ink, (x, y)
        # and all of it: the digit's centre line lies along the strokes, none of it left out
        lines = np.asarray(draw(item["strokes"], width=UPSCALE, size=28 * UPSCALE)) < 128
        centre = skeletonize(big)
        assert (lines & centre).sum() > 0.95 * centre.sum()
