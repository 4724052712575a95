"""Training digits redrawn the way the web page draws them: the stroke's centre line (a skeleton of
the upscaled digit) traced with a round, anti-aliased pen of a random width. This is the look of
`canvas_val` and of real drawings, which the 28×28 training images alone do not show."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_edt
from skimage.morphology import skeletonize

UPSCALE = 6  # 28 px -> 168 px, near the size people draw at on the 280 px canvas


def redraw(image: np.ndarray, pen_ratio: float) -> np.ndarray:
    """A uint8 image (ink bright) -> the same digit as a canvas-style drawing, ink 255 on 0, with a
    pen whose width is `pen_ratio` of the digit's longest side."""
    h, w = image.shape
    big = np.asarray(Image.fromarray(image).resize((w * UPSCALE, h * UPSCALE), Image.Resampling.BILINEAR))
    mask = big > 127
    if mask.sum() < 4:
        return image
    skeleton = skeletonize(mask)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    size = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    radius = max(1.0, pen_ratio * size / 2)
    distance = distance_transform_edt(~skeleton)
    pen = np.clip(radius + 0.5 - distance, 0.0, 1.0)  # one pixel of anti-aliased edge
    return (pen * 255).astype(np.uint8)


def redraw_all(x: np.ndarray, seed: int, low: float = 0.05, high: float = 0.2) -> np.ndarray:
    """Redraw every image once with a pen ratio drawn from [low, high]: canvas_val's pens are
    10-22 px on digits 112-238 px long, ratios of about 0.04-0.2."""
    rng = np.random.default_rng(seed)
    ratios = rng.uniform(low, high, len(x))
    return [redraw(im, r) for im, r in zip(x, ratios, strict=True)]
