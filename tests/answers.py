"""Comparing prediction answers from the service."""

from __future__ import annotations

import pytest

# A batched forward can round an image's probabilities differently in the 6th decimal from the
# same image sent alone; anything larger means answers were mixed up.
BATCH_ROUNDING = 1e-5


def assert_same_answer(answer: dict, want: dict) -> None:
    """The same digit and glyph, and the same probabilities up to batch rounding."""
    assert set(answer) == set(want)
    assert (answer["digit"], answer["bengali"]) == (want["digit"], want["bengali"])
    assert answer["probabilities"] == pytest.approx(want["probabilities"], abs=BATCH_ROUNDING)
    assert answer["confidence"] == pytest.approx(want["confidence"], abs=BATCH_ROUNDING)
