"""What a correction may say, checked before anything is kept: the fields of POST /api/feedback
other than the image (which the gateway checks as /api/predict does). Every refusal is a
PreprocessError with a code of bengali_digit.limits.FEEDBACK_STATUS_BY_CODE."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bengali_digit.limits import PreprocessError
from feedback.models import MODEL_VERSION_CHARS

# A digit drawn on the page is a few strokes of a few hundred points; these bounds leave room for
# slow, shaky drawing and refuse what no drawing needs.
MAX_STROKES = 100
MAX_POINTS = 10_000  # in all strokes together


@dataclass(frozen=True)
class Submission:
    label: int
    predicted: int | None = None
    probabilities: list[float] | None = None
    model_version: str | None = None
    strokes: list[list[list[float]]] | None = None


def is_number(value: Any) -> bool:
    """A finite JSON number; bool is not one (in Python it is an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def digit(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9


def parse(body: dict[str, Any]) -> Submission:
    """The fields of a correction (JSON object), checked; PreprocessError for the first fault."""
    if "label" not in body or body["label"] is None:
        raise PreprocessError("bad_label", '"label" is required: the digit 0-9 that was drawn')
    if not digit(body["label"]):
        raise PreprocessError("bad_label", '"label" must be an integer from 0 to 9 (a number, not a string)')
    predicted = body.get("predicted")
    if predicted is not None and not digit(predicted):
        raise PreprocessError("bad_feedback", '"predicted" must be the digit 0-9 the model answered, or null')
    return Submission(label=body["label"], predicted=predicted, probabilities=probabilities(body.get("probabilities")),
                      model_version=model_version(body.get("model_version")), strokes=strokes(body.get("strokes")))


def probabilities(value: Any) -> list[float] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 10 and all(is_number(p) and 0 <= p <= 1 for p in value)):
        raise PreprocessError("bad_feedback", '"probabilities" must be a list of 10 numbers from 0 to 1, or null')
    return [float(p) for p in value]


def model_version(value: Any) -> str | None:
    if value is None:
        return None
    if not (isinstance(value, str) and 0 < len(value) <= MODEL_VERSION_CHARS and value.isprintable()):
        raise PreprocessError("bad_feedback", f'"model_version" must be a string of 1 to {MODEL_VERSION_CHARS} '
                                              "printable characters, or null")
    return value


def strokes(value: Any) -> list[list[list[float]]] | None:
    """[[[x, y, t], ...], ...]: strokes of points, each point [x, y] or [x, y, t] (t in ms)."""
    if value is None:
        return None
    shape = '"strokes" must be a list of strokes, each a list of points [x, y, t] of finite numbers'
    if not isinstance(value, list):
        raise PreprocessError("bad_strokes", shape)
    if len(value) > MAX_STROKES:
        raise PreprocessError("too_many_points", f"{len(value)} strokes; at most {MAX_STROKES} are kept")
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
