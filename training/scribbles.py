"""Scribbles that are no digit, as pen strokes on the 280 px canvas: what people draw when they test
a recognizer (hatching, zig-zags, crosses, grids, stars, spirals, waves, random strokes). Used to
teach and to check "not sure"; a held-out seed gives scribbles never trained on."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280
Stroke = list[tuple[float, float]]


def hatching(rng: np.random.Generator) -> list[Stroke]:
    """Parallel lines at one angle, sometimes crossed by a second set."""
    strokes = []
    for _ in range(1 if rng.random() < 0.6 else 2):
        angle = rng.uniform(0, math.pi)
        n, length = int(rng.integers(4, 10)), rng.uniform(0.6, 1.0)
        d = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-d[1], d[0]])
        for k in np.linspace(-0.5, 0.5, n):
            c = normal * k + rng.normal(0, 0.02, 2)
            strokes.append([tuple(c - d * length / 2), tuple(c + d * length / 2)])
    return strokes


def zigzag(rng: np.random.Generator) -> list[Stroke]:
    n = int(rng.integers(4, 12))
    xs = np.linspace(-0.5, 0.5, n)
    ys = np.where(np.arange(n) % 2 == 0, -1, 1) * rng.uniform(0.1, 0.45) + rng.normal(0, 0.03, n)
    return [list(zip(xs, ys, strict=True))]


def cross(rng: np.random.Generator) -> list[Stroke]:
    """An X or a +, with two to four arms."""
    base = rng.uniform(0, math.pi)
    arms = int(rng.integers(2, 5))
    return [[(-0.5 * math.cos(a), -0.5 * math.sin(a)), (0.5 * math.cos(a), 0.5 * math.sin(a))]
            for a in base + np.arange(arms) * math.pi / arms + rng.normal(0, 0.05, arms)]


def grid(rng: np.random.Generator) -> list[Stroke]:
    rows, cols = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    h = [[(-0.5, y), (0.5, y)] for y in np.linspace(-0.5, 0.5, rows)]
    v = [[(x, -0.5), (x, 0.5)] for x in np.linspace(-0.5, 0.5, cols)]
    return h + v


def star(rng: np.random.Generator) -> list[Stroke]:
    """A pentagram-like star drawn in one stroke, or an asterisk."""
    points = int(rng.choice([5, 7, 9]))
    if rng.random() < 0.5:
        return cross(rng) + cross(rng)
    step = points // 2
    angles = -math.pi / 2 + 2 * math.pi * step * np.arange(points + 1) / points
    return [[(0.5 * math.cos(a), 0.5 * math.sin(a)) for a in angles]]


def spiral(rng: np.random.Generator) -> list[Stroke]:
    turns = rng.uniform(1.6, 4.0)
    t = np.linspace(0, 1, int(60 * turns))
    angle = 2 * math.pi * turns * t + rng.uniform(0, 2 * math.pi)
    r = 0.05 + 0.45 * t
    return [list(zip(r * np.cos(angle), r * np.sin(angle), strict=True))]


def wave(rng: np.random.Generator) -> list[Stroke]:
    cycles = rng.uniform(1.5, 4.5)
    x = np.linspace(-0.5, 0.5, 80)
    lines = [list(zip(x, rng.uniform(0.08, 0.3) * np.sin(2 * math.pi * cycles * (x + 0.5)) + dy, strict=True))
             for dy in np.linspace(-0.3, 0.3, int(rng.integers(1, 4)))]
    return lines if len(lines) > 1 else [[(x, y) for x, y in lines[0]]]


def random_strokes(rng: np.random.Generator) -> list[Stroke]:
    """A tangle: one to four smoothed random walks."""
    strokes = []
    for _ in range(int(rng.integers(1, 5))):
        steps = np.cumsum(rng.normal(0, 0.12, (int(rng.integers(8, 30)), 2)), axis=0)
        kernel = np.ones(3) / 3
        smooth = np.stack([np.convolve(steps[:, i], kernel, mode="valid") for i in range(2)], 1)
        strokes.append([tuple(p) for p in smooth])
    return strokes


KINDS = {"hatching": hatching, "zigzag": zigzag, "cross": cross, "grid": grid, "star": star,
         "spiral": spiral, "wave": wave, "random": random_strokes}


def place(strokes: list[Stroke], rng: np.random.Generator) -> list[Stroke]:
    """Unit-box strokes -> canvas pixels: random size (30-85 % of the canvas), aspect, tilt and place,
    with a little hand tremor."""
    pts = np.concatenate([np.asarray(s, dtype=float) for s in strokes])
    lo, hi = pts.min(0), pts.max(0)
    scale = rng.uniform(0.3, 0.85) * CANVAS / max(float((hi - lo).max()), 1e-6)
    aspect = np.array([1.0, rng.uniform(0.6, 1.4)])
    tilt = rng.uniform(-0.4, 0.4)
    rot = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    centre = (lo + hi) / 2
    shift = CANVAS / 2 + rng.uniform(-0.15, 0.15, 2) * CANVAS
    placed = []
    for s in strokes:
        p = (np.asarray(s, dtype=float) - centre) * aspect @ rot.T * scale + shift
        p += rng.normal(0, 0.4, p.shape)
        placed.append([(float(x), float(y)) for x, y in np.clip(p, 2, CANVAS - 3)])
    return placed


def draw(strokes: list[Stroke], width: float, size: int = CANVAS, supersample: int = 2) -> np.ndarray:
    """Strokes drawn as the page draws them: round pen, anti-aliased; ink 255 on 0, uint8."""
    k = supersample
    image = Image.new("L", (size * k, size * k), 0)
    pen = ImageDraw.Draw(image)
    r = width * k / 2
    for stroke in strokes:
        pts = [(x * k, y * k) for x, y in stroke]
        if len(pts) > 1:
            pen.line(pts, fill=255, width=round(width * k), joint="curve")
        for x, y in (pts[0], pts[-1]):
            pen.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(image.resize((size, size), Image.Resampling.BOX))


def make(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 280, 280) uint8 ink on 0, kind index into KINDS): every kind equally often,
    pens 10-22 px like the page's."""
    rng = np.random.default_rng(seed)
    names = list(KINDS)
    kinds = np.arange(n) % len(names)
    images = np.stack([draw(place(KINDS[names[k]](rng), rng), rng.uniform(10, 22)) for k in kinds])
    return images, kinds
