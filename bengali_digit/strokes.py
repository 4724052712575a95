"""The pen strokes a drawing may come with: checked here, the one definition for what a number
prediction (`bengali_number` reads touching digits apart by them) and a correction may carry.
Plain Python: the gateway imports this and never numpy or torch."""

from __future__ import annotations

import math
from typing import Any

from bengali_digit.limits import PreprocessError

# A number drawn on the page is a few strokes a digit of a few hundred points each; these bounds
# leave room for slow, shaky drawing and refuse what no drawing needs.
MAX_STROKES = 100
MAX_POINTS = 10_000  # in all strokes together

# [[[x, y] or [x, y, t], ...], ...]: x, y in the sent image's pixels, t in ms; strokes in the order drawn
Strokes = list[list[list[float]]]


def is_number(value: Any) -> bool:
    """A finite JSON number; bool is not one (in Python it is an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_strokes(value: Any) -> Strokes | None:
    """`value` checked as strokes (None stays None); PreprocessError for the first fault."""
    if value is None:
        return None
    shape = '"strokes" must be a list of strokes, each a list of points [x, y, t] of finite numbers'
    if not isinstance(value, list):
        raise PreprocessError("bad_strokes", shape)
    if len(value) > MAX_STROKES:
        raise PreprocessError("too_many_points", f"{len(value)} strokes; at most {MAX_STROKES} are read")
    points = 0
    for stroke in value:
        if not isinstance(stroke, list) or not stroke:
            raise PreprocessError("bad_strokes", shape)
        points += len(stroke)
        if points > MAX_POINTS:
            raise PreprocessError("too_many_points", f"more than {MAX_POINTS} stroke points; a drawing has fewer")
        for point in stroke:
            if not (isinstance(point, list) and len(point) in (2, 3) and all(map(is_number, point))):
                raise PreprocessError("bad_strokes", shape)
    return value
