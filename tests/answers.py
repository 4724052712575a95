"""Comparing and checking prediction answers from the service."""

from __future__ import annotations

import pytest

from bengali_digit import DIGITS

# A batched forward can round an image's probabilities differently in the 6th decimal from the
# same image sent alone; anything larger means answers were mixed up.
BATCH_ROUNDING = 1e-5
ANSWER_KEYS = {"verdict", "digit", "bengali", "best_guess", "confidence", "probabilities"}


def check_body(body: dict, verdict: str | None = None) -> dict:
    """A prediction answer of either verdict, consistent in itself (docs: README, "Calling the model")."""
    assert set(body) == ANSWER_KEYS, body
    assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-3
    assert body["best_guess"] == body["probabilities"].index(max(body["probabilities"]))
    assert body["confidence"] == max(body["probabilities"])
    if body["verdict"] == "digit":
        assert body["digit"] == body["best_guess"] and body["bengali"] == DIGITS[body["digit"]], body
    else:
        assert body["verdict"] == "not_a_digit" and body["digit"] is None and body["bengali"] is None, body
    if verdict is not None:
        assert body["verdict"] == verdict, body
    return body


def assert_same_answer(answer: dict, want: dict) -> None:
    """The same verdict, digit and glyph, and the same probabilities up to batch rounding."""
    assert set(answer) == set(want)
    assert (answer["verdict"], answer["digit"], answer["bengali"]) == (want["verdict"], want["digit"], want["bengali"])
    assert answer["probabilities"] == pytest.approx(want["probabilities"], abs=BATCH_ROUNDING)
    assert answer["confidence"] == pytest.approx(want["confidence"], abs=BATCH_ROUNDING)
