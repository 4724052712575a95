"""Calibration and "not sure" in-process: the temperature fit on generated sets whose right
temperature is known, the ECE, AUROC and threshold measures, and the verdict's answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bengali_digit import DIGITS, verdict
from tests.answers import check_body
from training.calibration import auroc, ece, fit_temperature, nll, softmax, threshold_keeping


def generated(n: int, true_temperature: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / true_temperature): a model that is
    calibrated exactly at that temperature."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, 10)) * true_temperature
    p = softmax(logits, true_temperature)
    labels = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_fitted_temperature_is_the_true_one(true_temperature):
    logits, labels = generated(20_000, true_temperature)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    calibrated = softmax(logits, fitted)
    raw = softmax(logits, 1.0)
    right = calibrated.argmax(1) == labels
    assert ece(calibrated.max(1), right) < 0.02
    assert nll(calibrated, labels) <= nll(raw, labels) + 1e-9


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy():
    confidence = np.r_[np.full(100, 0.9), np.full(100, 0.55)]
    correct = np.r_[np.arange(100) < 80, np.arange(100) < 55]  # 80 % right at 0.9, 55 % at 0.55
    assert ece(confidence, correct) == pytest.approx(0.5 * 0.1 + 0.5 * 0.0)
    assert ece(np.full(10, 1.0), np.ones(10, bool)) == 0.0


def test_auroc_counts_pairs_and_ties():
    rng = np.random.default_rng(1)
    digits, others = rng.integers(0, 20, 300).astype(float), rng.integers(0, 15, 200).astype(float)
    pairs = (digits[:, None] > others[None]).sum() + 0.5 * (digits[:, None] == others[None]).sum()
    assert auroc(digits, others) == pytest.approx(pairs / (300 * 200))
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0


@pytest.mark.parametrize("keep", [0.9, 0.99, 1.0])
def test_threshold_keeps_what_it_is_asked_to(keep):
    scores = np.random.default_rng(2).random(1000)
    t = threshold_keeping(scores, keep)
    assert (scores >= t).mean() >= keep
    assert (scores > t).mean() < keep  # and no more: the next score up would drop below


def test_answers_of_both_verdicts():
    probs = [0.01] * 10
    probs[3] = 0.91
    digit = verdict.answer(probs, score=0.8, threshold=0.5)
    check_body(digit, "digit", served=False)
    assert (digit["digit"], digit["bengali"], digit["best_guess"]) == (3, DIGITS[3], 3)
    refused = verdict.answer(probs, score=0.2, threshold=0.5)
    check_body(refused, "not_a_digit", served=False)
    assert refused["best_guess"] == 3 and refused["confidence"] == pytest.approx(0.91)


def test_scores_rank_a_peaked_output_above_a_flat_one():
    peaked = torch.tensor([[8.0] + [0.0] * 9 + [-4.0]])
    flat = torch.tensor([[0.0] * 10 + [4.0]])
    for method in verdict.SCORES:
        assert verdict.digit_score(peaked, 1.0, method) > verdict.digit_score(flat, 1.0, method), method
    with pytest.raises(ValueError, match="11th"):
        verdict.digit_score(peaked[:, :10], 1.0, "extra")
    probs = verdict.probabilities(peaked, 2.0)
    assert probs.shape == (1, 10) and float(probs.sum()) == pytest.approx(1.0)


def test_threshold_settings_and_their_overrides(monkeypatch):
    config = {"not_sure_threshold": 0.25, "not_sure_threshold_in_numbers": 0.05}
    for env in (verdict.THRESHOLD_ENV, verdict.NUMBER_THRESHOLD_ENV):
        monkeypatch.delenv(env, raising=False)
    assert (verdict.threshold(config), verdict.threshold(config, in_numbers=True)) == (0.25, 0.05)
    monkeypatch.setenv(verdict.THRESHOLD_ENV, "0.75")
    monkeypatch.setenv(verdict.NUMBER_THRESHOLD_ENV, "0.5")
    assert (verdict.threshold(config), verdict.threshold(config, in_numbers=True)) == (0.75, 0.5)
