"""What a correction may say, checked before anything is kept: the fields of POST /api/feedback
other than the image (which the gateway checks as /api/predict does). Every refusal is a
PreprocessError with a code of bengali_digit.limits.FEEDBACK_STATUS_BY_CODE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bengali_digit.limits import PreprocessError
from bengali_digit.strokes import Strokes, is_number, parse_strokes
from feedback.models import MODEL_VERSION_CHARS


@dataclass(frozen=True)
class Submission:
    label: int
    predicted: int | None = None
    probabilities: list[float] | None = None
    model_version: str | None = None
    strokes: Strokes | None = None


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
    return Submission(label=body["label"], predicted=predicted,
                      probabilities=probabilities(body.get("probabilities")),
                      model_version=model_version(body.get("model_version")),
                      strokes=parse_strokes(body.get("strokes")))


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
