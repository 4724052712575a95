"""A picture of a handwritten number -> its digits, left to right, each read by the digit network.

Over-segmentation and the best path by recognition score: the ink's 8-connected pieces (a digit
drawn in several strokes is merged back by how its pieces overlap left to right), pieces that may
hold touching digits split into the strokes they were drawn in when those came with the picture,
pieces wider than a digit cut at the thin columns between touching digits, and every run of up to
MAX_SPAN neighbouring atoms is a candidate digit. Each candidate goes through the digit model's own
preprocessing (`preprocess.normalize_digit`) and the network; dynamic programming picks the split
whose candidates are most surely digits. A half-digit tends to score low on "is a digit" (the
"not sure" output), which is what keeps a touching pair from being read as three or four digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from PIL import Image, ImageDraw

from bengali_digit import DIGITS, verdict
from bengali_digit.limits import PreprocessError
from bengali_digit.noise import check_strokes, label_pieces
from bengali_digit.preprocess import INK_LEVEL, MIN_INK_PIXELS, ink_map, normalize_digit, to_gray
from bengali_digit.strokes import Strokes

MAX_DIGITS = 12
MAX_SPAN = 6  # atoms one digit may be made of
MAX_WIDTH = 1.6  # widest candidate digit, in line heights
CUT_WIDTH = 1.2  # a piece wider than this many line heights is two or more touching digits
MIN_CUT_GAP = 0.1  # cuts inside a wide piece are at least this many line heights apart
# The network reads a slice of a digit as confidently as a whole one, so the path also weighs shape:
# a candidate shorter than SHORT or narrower than NARROW line heights pays its COST × log(its share
# of that size). Chosen on composed numbers (docs/model-card.md, Numbers).
SHORT, SHORT_COST = 0.6, 2.0
NARROW, NARROW_COST = 0.35, 3.0
SPECK = 0.02  # pieces under this share of the line height in both sides are dots that join a neighbour
# Strokes sent with the picture must reach this share of its ink, grown along the ink from their
# centre lines by at most MAX_GROWTH pixels (a wide pen's half-width), or the picture alone is read.
STROKES_COVER = 0.95
MAX_GROWTH = 48
# Only a piece wider than this many line heights can hold two digits and is split into its strokes:
# a narrower one split so would offer a digit's half-strokes as candidates (docs/model-card.md, Numbers).
SPLIT_WIDTH = 0.8

# prepared (N, 28, 28) -> (calibrated digit probabilities (N, 10), is a digit (N,), digit score in [0, 1] (N,))
Classify = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class Atom:
    """Ink pixels (row and column indices into the ink map) that always stay together."""

    ys: np.ndarray
    xs: np.ndarray

    @property
    def left(self) -> int:
        return int(self.xs.min())

    @property
    def right(self) -> int:
        return int(self.xs.max())


def atoms_of(ink: np.ndarray, strokes: Strokes | None = None) -> tuple[list[Atom], float]:
    """The ink's atoms, left to right, and the line height they were cut by. With the strokes it
    was drawn in, a piece wide enough to hold two digits is first split into its strokes, in the
    order drawn: people write a number digit after digit, so touching digits part where one's
    strokes end and the next one's begin, which no cut through the picture finds as well."""
    mask = ink >= INK_LEVEL
    if int(mask.sum()) < MIN_INK_PIXELS:
        raise PreprocessError("blank_image", "too little ink to read a number")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    check_strokes(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])  # noise is refused as for a digit
    labels, n = label_pieces(mask)
    ys, xs = np.nonzero(mask)
    which = labels[ys, xs]
    pieces = [Atom(ys[which == k], xs[which == k]) for k in range(n)]
    line = float(rows[-1] - rows[0] + 1)
    big = [p for p in pieces if max(np.ptp(p.ys), np.ptp(p.xs)) + 1 >= SPECK * line]
    small = [p for p in pieces if max(np.ptp(p.ys), np.ptp(p.xs)) + 1 < SPECK * line]
    if not big:
        raise PreprocessError("blank_image", "too little ink to read a number")
    for p in small:  # a dot joins the piece nearest to it, left to right
        nearest = min(big, key=lambda b: abs((b.left + b.right) / 2 - p.xs.mean()))
        nearest.ys, nearest.xs = np.concatenate([nearest.ys, p.ys]), np.concatenate([nearest.xs, p.xs])
    merged = merge_overlapping(sorted(big, key=lambda p: p.left))
    wide = [p.right - p.left + 1 > SPLIT_WIDTH * line for p in merged]
    owner = stroke_owners(mask, strokes) if strokes and any(wide) else None  # spaced digits need none
    if owner is not None and np.count_nonzero(owner) < STROKES_COVER * np.count_nonzero(mask):
        owner = None
    out: list[Atom] = []
    for p, split in zip(merged, wide, strict=True):
        if owner is None or not split:
            out.extend(cut(p, line))
            continue
        which = owner[p.ys, p.xs]
        # a digit's own strokes overlap left to right as its pieces do: merged back the same way
        drawn = merge_overlapping([Atom(p.ys[which == k], p.xs[which == k]) for k in np.unique(which[which > 0])],
                                  any_earlier=True)
        for a in drawn:
            out.extend(cut(a, line))  # a stroke wider than a digit may still write two
    return out, line


def merge_overlapping(pieces: list[Atom], any_earlier: bool = False) -> list[Atom]:
    """Pieces of one digit drawn in several strokes overlap left to right far more than neighbouring
    digits do: merge a piece into the previous one when most of the narrower one lies within it (or,
    `any_earlier`, into the latest earlier one it so lies within: a stroke added to a digit after
    the next digit was begun)."""
    out: list[Atom] = []
    for p in pieces:
        for k in range(len(out) - 1, -1 if any_earlier else max(len(out) - 2, -1), -1):
            q = out[k]
            overlap = min(p.right, q.right) - max(p.left, q.left) + 1
            narrower = min(p.right - p.left, q.right - q.left) + 1
            if overlap >= 0.6 * narrower:
                out[k] = Atom(np.concatenate([q.ys, p.ys]), np.concatenate([q.xs, p.xs]))
                break
        else:
            out.append(p)
    return out


def cut(piece: Atom, line: float) -> list[Atom]:
    """A piece wider than CUT_WIDTH line heights is cut at its thinnest columns (the necks between
    touching digits), at least MIN_CUT_GAP line heights apart, into atoms."""
    width = piece.right - piece.left + 1
    if width <= CUT_WIDTH * line:
        return [piece]
    profile = np.bincount(piece.xs - piece.left, minlength=width).astype(float)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    gap = max(2, int(MIN_CUT_GAP * line))
    inner = np.arange(gap, width - gap)
    minima = [c for c in inner if smooth[c] <= smooth[max(0, c - gap // 2) : c + gap // 2 + 1].min()]
    cuts: list[int] = []
    for c in sorted(minima, key=lambda c: (smooth[c], c)):
        if all(abs(c - d) >= gap for d in cuts):
            cuts.append(c)
    edges = [0, *sorted(cuts), width]
    rel = piece.xs - piece.left
    return [Atom(piece.ys[m], piece.xs[m]) for a, b in pairwise(edges)
            if (m := (rel >= a) & (rel < b)).any()]


def stroke_owners(mask: np.ndarray, strokes: Strokes) -> np.ndarray:
    """Each ink pixel's stroke, numbered from 1 in the order drawn (0: paper, or ink no stroke
    reaches): the strokes' centre lines grown through the ink a pixel a round, so that where strokes
    cross or touch, a pixel goes to the stroke whose line is nearest along the ink."""
    h, w = mask.shape
    lines = Image.new("I", (w, h), 0)
    draw = ImageDraw.Draw(lines)
    for k, stroke in enumerate(strokes, start=1):
        # points far off the picture would overflow Pillow's integer coordinates
        points = [(min(max(x, -1.0), w + 1.0), min(max(y, -1.0), h + 1.0)) for x, y, *_ in stroke]
        if len(points) > 1:
            draw.line(points, fill=k)
        else:
            draw.point(points, fill=k)
    owner = np.asarray(lines, dtype=np.int32) * mask
    for _ in range(MAX_GROWTH):
        free = mask & (owner == 0)
        if not free.any():
            break
        grown = owner.copy()
        # a free pixel takes the largest number among its four neighbours: the later stroke, on a tie
        grown[1:][free[1:]] = np.maximum(grown[1:], owner[:-1])[free[1:]]
        grown[:-1][free[:-1]] = np.maximum(grown[:-1], owner[1:])[free[:-1]]
        grown[:, 1:][free[:, 1:]] = np.maximum(grown[:, 1:], owner[:, :-1])[free[:, 1:]]
        grown[:, :-1][free[:, :-1]] = np.maximum(grown[:, :-1], owner[:, 1:])[free[:, :-1]]
        if np.array_equal(grown, owner):
            break
        owner = grown
    return owner


def candidate_image(ink: np.ndarray, atoms: list[Atom]) -> tuple[np.ndarray, list[int]]:
    """The ink of these atoms alone, cropped, and its box [x0, y0, x1, y1] (x1, y1 exclusive)."""
    ys = np.concatenate([a.ys for a in atoms])
    xs = np.concatenate([a.xs for a in atoms])
    y0, x0 = int(ys.min()), int(xs.min())
    y1, x1 = int(ys.max()) + 1, int(xs.max()) + 1
    # the atoms' own pixels plus the faint anti-aliased edge next to them, not the neighbours' ink
    own = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    own[ys - y0, xs - x0] = True
    grown = own.copy()
    grown[1:] |= own[:-1]
    grown[:-1] |= own[1:]
    grown[:, 1:] |= own[:, :-1]
    grown[:, :-1] |= own[:, 1:]
    crop = ink[y0:y1, x0:x1] * grown
    return crop, [x0, y0, x1, y1]


def segment(ink: np.ndarray, strokes: Strokes | None = None) -> tuple[list[Atom], float, list[tuple[int, int]]]:
    """(atoms, line height, candidate digits as spans [i, j) of atoms): every run of up to MAX_SPAN
    neighbouring atoms no wider than MAX_WIDTH line heights, and every atom alone."""
    atoms, line = atoms_of(ink, strokes)

    def width(i: int, j: int) -> int:  # strokes in the order drawn need not go left to right
        return max(a.right for a in atoms[i:j]) - min(a.left for a in atoms[i:j]) + 1

    spans = [(i, j) for i in range(len(atoms)) for j in range(i + 1, min(len(atoms), i + MAX_SPAN) + 1)
             if width(i, j) <= MAX_WIDTH * line or j == i + 1]
    return atoms, line, spans


def read_number(image: Image.Image | np.ndarray, classify: Classify, strokes: Strokes | None = None) -> dict:
    """The number in `image` (the handler's answer), read better when the `strokes` it was drawn
    with come along, in its pixels and the order drawn (`atoms_of`). Raises PreprocessError for no
    ink, noise, or more than MAX_DIGITS digits."""
    gray = to_gray(image)
    if gray.ndim != 2 or min(gray.shape) < 2:
        raise PreprocessError("bad_shape", f"image of shape {gray.shape} is too small to hold a number")
    ink = ink_map(gray)
    atoms, line, spans = segment(ink, strokes)
    crops = [candidate_image(ink, atoms[i:j]) for i, j in spans]
    prepared = np.zeros((len(crops), 28, 28), dtype=np.float32)
    readable = np.ones(len(crops), dtype=bool)
    for k, (crop, _) in enumerate(crops):
        try:
            prepared[k] = normalize_digit(crop)
        except PreprocessError:  # a sliver or a speck: no digit, but the path may still need it
            readable[k] = False
    probs, is_digit, score = classify(prepared)
    is_digit = is_digit & readable
    fit = np.log(np.clip(np.where(readable, score, 0), 1e-6, 1)) + np.log(np.clip(probs.max(axis=1), 1e-6, 1))
    # a fragment can look like a digit to the network; it rarely has a digit's height
    heights = np.array([box[3] - box[1] for _, box in crops], dtype=float)
    fit += SHORT_COST * np.log(np.clip(heights / (SHORT * line), 1e-3, 1))
    widths = np.array([box[2] - box[0] for _, box in crops], dtype=float)
    fit += NARROW_COST * np.log(np.clip(widths / (NARROW * line), 1e-3, 1))
    # best[j]: the best total fit of atoms[:j] split into candidates, and the candidate that ends it
    best = [(0.0, -1)] + [(-np.inf, -1)] * len(atoms)
    for k, (i, j) in enumerate(spans):
        if best[i][0] + fit[k] > best[j][0]:
            best[j] = (best[i][0] + fit[k], k)
    chosen, j = [], len(atoms)
    while j > 0:
        k = best[j][1]
        chosen.append(k)
        j = spans[k][0]
    chosen.sort(key=lambda k: crops[k][1][0] + crops[k][1][2])  # left to right, whatever the order drawn
    if len(chosen) > MAX_DIGITS:
        raise PreprocessError("too_many_digits", f"read {len(chosen)} digits; at most {MAX_DIGITS} in one number")
    digits = [{**verdict.reading(probs[k].tolist(), bool(is_digit[k])), "box": crops[k][1]} for k in chosen]
    whole = all(d["verdict"] == "digit" for d in digits)
    number = "".join(str(d["best_guess"]) for d in digits)
    return {"number": number if whole else None,
            "bengali": "".join(DIGITS[int(c)] for c in number) if whole else None,
            "confidence": round(float(np.prod([d["confidence"] for d in digits])), 6),
            "digits": digits}
