"""Corrections as the drawing page sends them to POST /api/feedback: a drawing made with the page's
pen from strokes of [x, y, t] points (280 px canvas pixels, t in ms), and the JSON body around it.
Each label gets a drawing of its own, so that a row can be matched to what was sent."""

from __future__ import annotations

import math
from typing import Any

from synthetic.bad_inputs import data_url
from synthetic.digit_images import png_bytes
from synthetic.strokes import draw

Points = list[list[float]]


def strokes(label: int) -> list[Points]:
    """Two strokes: an arc that turns further the larger the label, and a bar across it."""
    turn = math.pi * (0.5 + label / 6)
    arc = [[round(140 + 80 * math.cos(turn * i / 20), 1), round(140 + 80 * math.sin(turn * i / 20), 1), 16.0 * i]
           for i in range(21)]
    bar = [[60.0, 140.0, 500.0], [140.0, 150.0 + label, 516.0], [220.0, 140.0, 532.0]]
    return [arc, bar]


def drawing(label: int) -> bytes:
    """The PNG the page would send for strokes(label)."""
    return png_bytes(draw([[(x, y) for x, y, _ in stroke] for stroke in strokes(label)]))


def probabilities(predicted: int) -> list[float]:
    return [0.91 if d == predicted else 0.01 for d in range(10)]


def correction(digit: int = 3, **fields: Any) -> dict[str, Any]:
    """A correction of a misread drawing of `digit`, every field filled; `fields` replace or add."""
    predicted = (digit + 5) % 10
    body = {"image": data_url(drawing(digit)), "label": digit, "predicted": predicted, "model_version": "1.0",
            "strokes": strokes(digit), "probabilities": probabilities(predicted)}
    return body | fields
