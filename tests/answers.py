"""Comparing and checking the service's answers: predictions, and refusals as JSON errors."""

from __future__ import annotations

import json

import pytest
import requests

from bengali_digit import DIGITS
from bengali_digit.catalog import MODEL_VERSION
from synthetic.bad_inputs import LEAK

# A batched forward can round an image's probabilities differently in the 6th decimal from the
# same image sent alone; anything larger means answers were mixed up.
BATCH_ROUNDING = 1e-5
ANSWER_KEYS = {"verdict", "digit", "bengali", "best_guess", "confidence", "probabilities"}


def check_body(body: dict, verdict: str | None = None, served: bool = True) -> dict:
    """A prediction answer of either verdict, consistent in itself (docs: README, "Calling the model").
    A served one also names its model version (the committed weights': no test here releases others);
    `verdict.answer` in-process does not."""
    assert set(body) == ANSWER_KEYS | ({"model_version"} if served else set()), body
    assert body.get("model_version", MODEL_VERSION) == MODEL_VERSION, body
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


def check_error(r: requests.Response, status: int, code: str, gateway: bool = False) -> dict:
    """A refusal (docs: README, "Calling the model"): this status, a JSON body with this code and a
    message, and no stack trace, source file or server path. The gateway's also say exactly
    application/json and are never cached."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = json.loads(r.text)  # r: a requests response, or a Flask test client's
    assert body["error"] == code and body["message"], body
    assert not LEAK.search(r.text), r.text[:300]
    if gateway:
        assert r.headers["Content-Type"] == "application/json" and r.headers["Cache-Control"] == "no-store"
    return body
