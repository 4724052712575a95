"""Canvas-like PNGs of Bengali digits, of numbers and of drawings that are no digit: the benchmarks'
request bodies, made here and nowhere else.

Drawn the way the page draws (gateway/static/pad.js): dark ink with a round pen on opaque white,
exported as an RGBA PNG. The strokes are the pen drawings of ../shared/data/canvas_val_strokes.json
(280 px coordinates, each with its own pen width) when that file exists, else Bengali glyphs from the
system fonts. The page sends the part of its 280 px image that holds the ink (pad.js); other clients
send their canvas as it is: 280 px, 400 px, or 560 (280 px at devicePixelRatio 2).
"""

from __future__ import annotations

import io
import json
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from synthetic.bad_inputs import data_url
from training import numbers
from training.data import DEFAULT_DATA_DIR

STROKES = DEFAULT_DATA_DIR / "canvas_val_strokes.json"
SIDES = (280, 280, 400, 560)  # the first 280 as the page sends it, cut to the ink; decoding grows with the pixels
PAGE_MARGIN = 2  # px of paper the page leaves round the ink it sends (pad.js, MARGIN)
STROKE_SPACE = 280  # the coordinates of canvas_val_strokes.json
SUPERSAMPLE = 2  # PIL's lines are not anti-aliased, a browser's are: draw large, then shrink


@cache
def drawings() -> list[tuple[int, float, list[list[tuple[float, float]]]]]:
    """(digit, pen width, strokes) per drawing in the shared strokes file; empty without it."""
    if not STROKES.exists():
        return []
    items = json.loads(STROKES.read_text())
    return [(int(it["label"]), float(it["width"]), [[(x, y) for x, y in s] for s in it["strokes"]]) for it in items]


def draw_strokes(strokes: list[list[tuple[float, float]]], pen: float, side: int) -> Image.Image:
    big = side * SUPERSAMPLE
    scale = big / STROKE_SPACE
    width = max(1, round(pen * scale))
    image = Image.new("RGBA", (big, big), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        points = [(x * scale, y * scale) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=(17, 17, 17, 255), width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # round caps, and a dot for a single tap
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=(17, 17, 17, 255))
    return image.resize((side, side), Image.Resampling.LANCZOS)


def font_digit(digit: int, rng: np.random.Generator, side: int) -> Image.Image:
    from synthetic.digit_images import bengali_fonts, render_digit  # only without the strokes file

    fonts = bengali_fonts()
    glyph = int(side * rng.uniform(0.4, 0.75))
    center = tuple(int(side / 2 + rng.uniform(-0.12, 0.12) * side) for _ in range(2))
    gray = render_digit(digit, fonts[int(rng.integers(len(fonts)))], glyph, center,
                        stroke=int(rng.integers(0, side // 40 + 1)), size=side)
    return gray.convert("RGBA")


def canvas_png(seed: int, side: int | None = None) -> tuple[int, bytes]:
    """(digit drawn, PNG bytes) for a seed: the seed picks the drawing and, unless given, the side
    (and whether it is the page's cut of a 280 px image)."""
    rng = np.random.default_rng(seed)
    page = side is None and seed % len(SIDES) == 0
    side = side or SIDES[seed % len(SIDES)]
    if drawings():
        # a large prime step: the file is ordered by digit, and neighbouring seeds should differ
        digit, pen, strokes = drawings()[seed * 389 % len(drawings())]
        image = draw_strokes(strokes, pen, side)
    else:
        digit = seed % 10
        image = font_digit(digit, rng, side)
    return digit, png(page_cut(image) if page else image)


def page_cut(image: Image.Image) -> Image.Image:
    """The part of a drawing on white that the page sends: the ink's box and PAGE_MARGIN px of paper."""
    return image.crop(page_box(image))


def page_box(image: Image.Image) -> tuple[int, int, int, int]:
    """Where `page_cut` cuts: (x0, y0, x1, y1), the whole image when it holds no ink."""
    ink = np.asarray(image.convert("L")) < 255
    ys, xs = np.nonzero(ink)
    if not len(ys):
        return 0, 0, image.width, image.height
    return (max(0, int(xs.min()) - PAGE_MARGIN), max(0, int(ys.min()) - PAGE_MARGIN),
            min(image.width, int(xs.max()) + 1 + PAGE_MARGIN), min(image.height, int(ys.max()) + 1 + PAGE_MARGIN))


def page_number(number: numbers.Number) -> bytes:
    """A number as the page's Number mode sends it: JSON of its cut PNG and the strokes it was drawn
    in, in the cut's pixels."""
    image = Image.fromarray(number.image).convert("RGBA")
    x0, y0, _, _ = box = page_box(image)
    strokes = [[[round(x - x0, 1), round(y - y0, 1)] for x, y in stroke] for stroke in number.strokes]
    return json.dumps({"image": data_url(png(image.crop(box))), "strokes": strokes}).encode()


def kind(width: int) -> str:
    """What a body's width says it is: a client's whole canvas, or the page's cut of its image."""
    return f"{width} px canvas" if width in SIDES else "the page's cut"


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def canvas_pngs(count: int, start: int = 0) -> list[tuple[int, bytes]]:
    """`count` different drawings, of mixed digits and sides."""
    return [canvas_png(start + i) for i in range(count)]


def number_bodies(count: int, digits: int) -> list[tuple[str, bytes]]:
    """`count` different handwritten numbers of `digits` digits, as (digit string, request body):
    composed by training.numbers from the shared strokes, spaced, tight and touching in turn, every
    other one as the page sends it (`page_number`) and the rest as PNGs of the whole picture; without
    the strokes file, PNGs of Bengali font digits side by side."""
    if drawings():
        source = [(digit, strokes) for digit, _, strokes in drawings()]
        k, r = -(-count // len(numbers.REGIMES)), len(numbers.REGIMES)
        made = list(numbers.generate(source, k, seed=0, lengths=[digits]))  # regime after regime
        # interleaved, so that every load meets all three regimes
        interleaved = [made[j * k + i] for i in range(k) for j in range(r)][:count]
        return [(n.label, page_number(n) if i % 2 == 0 else png(Image.fromarray(n.image).convert("RGBA")))
                for i, n in enumerate(interleaved)]
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(count):
        label = "".join(str(d) for d in rng.integers(0, 10, digits))
        glyphs = [font_digit(int(d), rng, 140).convert("L") for d in label]
        crops = [g.crop(Image.eval(g, lambda v: 255 - v).getbbox()) for g in glyphs]
        gap = 20
        image = Image.new("L", (sum(c.width for c in crops) + gap * (len(crops) + 1), 180), 255)
        x = gap
        for c in crops:
            image.paste(c, (x, (180 - c.height) // 2))
            x += c.width + gap
        pairs.append((label, image.convert("RGBA")))
    return [(label, png(image)) for label, image in pairs]


# Capitals of three other scripts (DejaVu Sans has them all), rings left out: O, Ο, О and Θ are drawn
# like ০, and a reader that takes them for it is right to.
LETTERS = "ABCDEFGHIJKLMNPQRSTUVWXYZ" + "ΓΔΛΞΠΣΦΨΩ" + "БГДЖИЛПФЦЧШЩЫЭЮЯ"


def no_digit_png(seed: int) -> tuple[None, bytes]:
    """(None, PNG) of a drawing that is no digit: even seeds a scribble of synthetic.strokes (drawn by
    hand there, never by the model's own generators), shrunk and moved about; odd seeds a letter of
    another script. Sides as the digits' (SIDES)."""
    from synthetic.digit_images import latin_font, render_text
    from synthetic.strokes import SCRIBBLES

    rng = np.random.default_rng(seed)
    side = SIDES[seed // 2 % len(SIDES)]
    if seed % 2 == 0:
        strokes = list(SCRIBBLES.values())[seed // 2 % len(SCRIBBLES)]
        mid, scale = STROKE_SPACE / 2, rng.uniform(0.6, 1.0)
        dx, dy = rng.uniform(-1, 1, 2) * (1 - scale) * mid  # moved about, never off the canvas
        moved = [[(mid + (x - mid) * scale + dx, mid + (y - mid) * scale + dy) for x, y in s] for s in strokes]
        return None, png(draw_strokes(moved, rng.uniform(8, 20), side))
    letter = LETTERS[seed // 2 * 7 % len(LETTERS)]  # a step prime to the alphabet's length: each in turn
    center = tuple(int(side / 2 + rng.uniform(-0.1, 0.1) * side) for _ in range(2))
    image = render_text(letter, latin_font(), int(side * rng.uniform(0.45, 0.75)), center,
                        stroke=int(rng.integers(1, side // 40 + 2)), size=side)
    return None, png(image.convert("RGBA"))


def no_digit_pngs(count: int) -> list[tuple[None, bytes]]:
    """`count` different drawings that are no digit, scribbles and letters in turn."""
    return [no_digit_png(i) for i in range(count)]
