"""Pen strokes of Bengali digits for the browser tests: polylines in 280×280 canvas pixels, the
format of ../shared/data/canvas_val_strokes.json. Without that file, strokes are made here from a
system font: render the digit, thin it to a one-pixel skeleton and trace the skeleton."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.morphology import skeletonize

from synthetic.bad_inputs import data_url
from synthetic.digit_images import CANVAS, bengali_fonts, png_bytes, render_digit

Stroke = list[tuple[float, float]]
NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def font_strokes(digit: int, font: Path, glyph_px: int = 220, step: int = 4) -> list[Stroke]:
    """The digit rendered from `font` and traced (`ink_strokes`)."""
    return ink_strokes(np.asarray(render_digit(digit, font, glyph_px)) < 128, step)


def ink_strokes(ink: np.ndarray, step: int = 4) -> list[Stroke]:
    """An ink mask thinned to its skeleton and traced into polylines, every `step`-th pixel kept;
    walks under 6 pixels, the stubs a skeleton leaves where lines meet, are dropped."""
    return [[*path[::step], path[-1]] for path in trace(skeletonize(ink)) if len(path) >= 6]


def font_numbers(regime: str, count: int, lengths: tuple[int, ...] = (2, 3, 4), seed: int = 0) -> list:
    """`count` numbers of `regime` composed by the validation's generator (training/numbers.py) from
    every Bengali font's digits traced into strokes, each with the strokes it was drawn in."""
    from training import numbers  # training's generator, imported only where numbers are made

    source = [(d, font_strokes(d, font)) for font in bengali_fonts() for d in range(10)]
    return list(numbers.generate(source, count, seed=seed, regimes=[regime], lengths=list(lengths)))


def page_json(number) -> dict:
    """A composed number (`font_numbers`) as the page's Number mode sends it: JSON of its PNG and
    the strokes it was drawn in."""
    return {"image": data_url(png_bytes(Image.fromarray(number.image))),
            "strokes": [[list(p) for p in stroke] for stroke in number.strokes]}


def trace(skeleton: np.ndarray) -> list[Stroke]:
    """Cover every edge of the skeleton's 8-neighbour graph with walks, each starting where a pen
    would (an end of a line if any is left) and going as straight as it can at each junction."""
    pixels = {(int(y), int(x)) for y, x in zip(*np.nonzero(skeleton), strict=True)}
    edges = {frozenset((p, (p[0] + dy, p[1] + dx))) for p in pixels for dy, dx in NEIGHBOURS
             if (p[0] + dy, p[1] + dx) in pixels}

    def free(p: tuple[int, int]) -> list[tuple[int, int]]:
        return [q for dy, dx in NEIGHBOURS if frozenset((p, q := (p[0] + dy, p[1] + dx))) in edges]

    paths = []
    while edges:
        ends = [p for p in pixels if len(free(p)) == 1]
        here = min(ends) if ends else min(p for p in pixels if free(p))
        path, heading = [here], None
        while options := free(here):
            def turn(q, here=here, heading=heading):
                step = (q[0] - here[0], q[1] - here[1])
                return 0 if heading is None else -(step[0] * heading[0] + step[1] * heading[1])

            nxt = min(options, key=turn)
            edges.discard(frozenset((here, nxt)))
            heading = (nxt[0] - here[0], nxt[1] - here[1])
            path.append(here := nxt)
        paths.append([(float(x), float(y)) for y, x in path])
    return paths


def shared_strokes(path: Path) -> dict[int, list[Stroke]]:
    """One drawing per digit from canvas_val_strokes.json: the first redrawn from ISI, the source
    whose redrawings are legible (NumtaDB's are coarser, some barely so)."""
    chosen: dict[int, list[Stroke]] = {}
    for item in json.loads(path.read_text()):
        if item["src"] == 0 and item["label"] not in chosen:
            chosen[item["label"]] = [[(x, y) for x, y in stroke] for stroke in item["strokes"]]
    return dict(sorted(chosen.items()))


def draw(strokes: list[Stroke], width: float = 15, size: int | tuple[int, int] = CANVAS):
    """The strokes drawn the way the page draws them (round pen, dark on white), for checking; on a
    square canvas or a (width, height) one."""
    from PIL import Image, ImageDraw

    image = Image.new("L", size if isinstance(size, tuple) else (size, size), 255)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=0, width=round(width), joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            pen.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=0)
    return image


def _spiral(turns: float = 3.0, points: int = 120) -> Stroke:
    t = np.linspace(0, 1, points)
    a = 2 * np.pi * turns * t
    return [(140 + (10 + 100 * s) * np.cos(v), 140 + (10 + 100 * s) * np.sin(v)) for s, v in zip(t, a, strict=True)]


# Drawings that are no digit, as people scribble to test a recognizer, in canvas pixels. Made here by
# hand, not by training/scribbles.py, so that the tests do not check the model on its own generator.
SCRIBBLES: dict[str, list[Stroke]] = {
    "zigzag": [[(40 + 25 * i, 100 if i % 2 else 180) for i in range(9)]],
    "hatching": [[(60.0 + 25 * k - 5 * i, 40.0 + 25 * i) for i in range(9)] for k in range(7)],
    "grid": [[(50, y), (230, y)] for y in (60, 120, 180, 240)] + [[(x, 40), (x, 250)] for x in (70, 140, 210)],
    "star": [[(140 + 110 * np.cos(a), 140 + 110 * np.sin(a)) for a in -np.pi / 2 + 4 * np.pi / 5 * np.arange(6)]],
    "spiral": [_spiral()],
    "asterisk": [[(140 - 110 * np.cos(a), 140 - 110 * np.sin(a)), (140 + 110 * np.cos(a), 140 + 110 * np.sin(a))]
                 for a in np.arange(4) * np.pi / 4],
}
