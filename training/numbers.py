"""Handwritten numbers composed from single-digit pen strokes, for validating the number reader
(issue 17): 1-6 digits side by side, one pen per number, each digit sized, jittered and slanted a
little, in three regimes of spacing: spaced, tight, and touching (ink boxes overlap, strokes may
cross). Drawn as the page draws: dark round pen, anti-aliased, on white. Deterministic for a seed:
a held-out set is a seed.

    numbers.generate(numbers.load_strokes(path), per_regime=300, seed=0)   # an iterator of Number
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.scribbles import draw

Stroke = list[tuple[float, float]]
Source = Mapping[int, list[Stroke]] | Iterable[tuple[int, list[Stroke]]]

# Gap between neighbouring ink boxes as a fraction of the digits' height, per regime.
REGIMES: dict[str, tuple[float, float]] = {"spaced": (0.15, 0.6), "tight": (0.0, 0.15), "touching": (-0.15, 0.0)}
LENGTHS = range(1, 7)
PEN = (8.0, 18.0)  # px, one pen per number
HEIGHT = (70.0, 150.0)  # px, the number's digit height; each digit varies by HEIGHT_JITTER around it
HEIGHT_JITTER = 0.15
BASELINE_JITTER = 0.08  # of the digit's height
SLANT = 0.1  # horizontal shear per unit of height, one per number
MARGIN = (0.1, 0.5)  # of the number's height, drawn per side: "just large enough" plus a little paper
INK, PAPER = 17, 255  # the page's #111 on #fff
SUPERSAMPLE = 4  # 17 grey levels at the edges, as canvas_val.npz has


@dataclass
class Number:
    """One composed number; `boxes` are each digit's ink box [x0, y0, x1, y1] in the image's pixels,
    left to right, x1 and y1 exclusive (the box of the ideal round pen; anti-aliasing may add a faint
    pixel outside); `gaps` the gaps drawn between neighbouring boxes as fractions of their height."""

    image: np.ndarray  # (H, W) uint8, dark ink on white
    label: str  # e.g. "2026"; leading zeros are kept, a digit string is what is read
    regime: str
    length: int
    boxes: list[list[int]]
    pen: float
    height: float
    gaps: list[float] = field(default_factory=list)
    strokes: list[Stroke] = field(default_factory=list)  # centre lines as drawn, in order


def load_strokes(path: Path, src: int | None = None) -> list[tuple[int, list[Stroke]]]:
    """(label, strokes) of canvas_val_strokes.json; src 0 = redrawn from ISI, 1 = from NumtaDB."""
    items = json.loads(Path(path).read_text())
    return [(int(it["label"]), [[(float(x), float(y)) for x, y in s] for s in it["strokes"]])
            for it in items if src is None or it["src"] == src]


def as_drawings(source: Source) -> list[tuple[int, list[np.ndarray]]]:
    """Any mapping label -> strokes, or sequence of (label, strokes), as (label, [array (P, 2)])."""
    pairs = source.items() if isinstance(source, Mapping) else source
    drawings = [(int(label), [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)])
                for label, strokes in pairs]
    drawings = [(label, strokes) for label, strokes in drawings if strokes]
    if not drawings:
        raise ValueError("no drawing with ink in the source")
    return drawings


def shaped(strokes: list[np.ndarray], height: float, pen: float, slant: float) -> list[np.ndarray]:
    """The digit scaled so that its ink (skeleton plus pen) is `height` tall, sheared by `slant`
    about its bottom, and moved so that its ink box starts at (0, 0)."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    # A drawing flatter than 1:4 (a dash, a dot) is sized by its width, or it would grow without bound.
    scale = max(height - pen, 1.0) / max(float(hi[1] - lo[1]), float(hi[0] - lo[0]) / 4, 1.0)
    bottom = float(hi[1] - lo[1]) * scale
    out = []
    for s in strokes:
        p = (s - lo) * scale
        p[:, 0] += slant * (bottom - p[:, 1])  # a positive slant leans the top to the right
        out.append(p)
    lo = np.concatenate(out).min(0)
    return [p - lo + pen / 2 for p in out]


def compose(drawings: list[tuple[int, list[np.ndarray]]], length: int, regime: str,
            rng: np.random.Generator) -> Number:
    """One number of `length` digits chosen at random from `drawings`, spaced per `regime`."""
    pen = rng.uniform(*PEN)
    height = rng.uniform(*HEIGHT)
    slant = rng.uniform(-SLANT, SLANT)
    picks = [drawings[i] for i in rng.integers(0, len(drawings), length)]
    heights = height * rng.uniform(1 - HEIGHT_JITTER, 1 + HEIGHT_JITTER, length)
    digits = [shaped(strokes, h, pen, slant) for (_, strokes), h in zip(picks, heights, strict=True)]
    sizes = [np.concatenate(d).max(0) + pen / 2 for d in digits]  # (w, h) of each ink box from (0, 0)
    gaps = rng.uniform(*REGIMES[regime], length - 1)
    drops = rng.uniform(-BASELINE_JITTER, BASELINE_JITTER, length) * heights
    left, top, right, bottom = rng.uniform(*MARGIN, 4) * height

    x0 = [0.0]
    for i, g in enumerate(gaps):
        step = g * (heights[i] + heights[i + 1]) / 2
        # An overlap never reaches half the narrower digit, so that left to right stays well defined.
        step = max(step, -0.5 * min(sizes[i][0], sizes[i + 1][0]))
        x0.append(x0[-1] + sizes[i][0] + step)
    y0 = drops - np.array([s[1] for s in sizes])  # bottoms on a jittered baseline
    dx, dy = left, top - float(y0.min())
    boxes = [(x0[i] + dx, y0[i] + dy, x0[i] + dx + sizes[i][0], y0[i] + dy + sizes[i][1]) for i in range(length)]
    w = math.ceil(max(b[2] for b in boxes) + right)
    h = math.ceil(max(b[3] for b in boxes) + bottom)

    strokes = [[(float(x), float(y)) for x, y in s + np.array(b[:2])] for d, b in zip(digits, boxes, strict=True)
               for s in d]
    # scribbles.draw is the one round-pen renderer (ink 255 on 0) and draws squares: crop the square.
    ink = draw(strokes, pen, size=max(w, h), supersample=SUPERSAMPLE)[:h, :w].astype(np.float32) / 255.0
    image = np.rint(PAPER - ink * (PAPER - INK)).astype(np.uint8)
    return Number(image=image, label="".join(str(label) for label, _ in picks), regime=regime, length=length,
                  boxes=[[math.floor(b[0]), math.floor(b[1]), math.ceil(b[2]), math.ceil(b[3])] for b in boxes],
                  pen=float(pen), height=float(height), gaps=[float(g) for g in gaps], strokes=strokes)


def number_at(drawings: list[tuple[int, list[np.ndarray]]], regime: str, index: int, seed: int,
              lengths: range | list[int] = LENGTHS) -> Number:
    """The `index`-th number of `regime` for `seed`, alone: each number has its own random stream,
    so that one failure can be made again without making the set."""
    rng = np.random.default_rng([seed, list(REGIMES).index(regime), index])
    return compose(drawings, lengths[index % len(lengths)], regime, rng)


def generate(source: Source, per_regime: int, seed: int, regimes: Iterable[str] = tuple(REGIMES),
             lengths: range | list[int] = LENGTHS) -> Iterator[Number]:
    """`per_regime` numbers of each regime, lengths taken in turn from `lengths` (so evenly)."""
    drawings = as_drawings(source)
    for regime in regimes:
        for index in range(per_regime):
            yield number_at(drawings, regime, index, seed, lengths)
