"""The network's outputs -> what a person is told: calibrated digit probabilities, and whether the
drawing is a Bengali digit at all ("not sure" otherwise). Used alike by the handler, evaluation and
calibration, so that the served answer is the measured one.

Calibration is one temperature, fitted after training on held-out drawings (`training/calibrate.py`)
and shipped in the checkpoint's meta: label smoothing leaves every raw softmax under-confident.
The digit score is higher for more digit-like inputs; the refusal threshold on it is a serving
setting (handler/model-config.yaml), chosen as the model card describes.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from bengali_digit import DIGITS

# How the digit score is read from the outputs. "extra": the probability that the input is not the
# 11th "not a digit" class; "msp": the top calibrated digit probability; "energy": the free energy
# T·logsumexp(logits / T) over the ten digits. The model card compares them.
SCORES = ("extra", "msp", "energy")


THRESHOLD_ENV = "BDR_NOT_SURE_THRESHOLD"  # overrides model-config.yaml's handler.not_sure_threshold
NUMBER_THRESHOLD_ENV = "BDR_NOT_SURE_THRESHOLD_IN_NUMBERS"  # and handler.not_sure_threshold_in_numbers


def threshold(handler_config: dict, in_numbers: bool = False) -> float:
    """The refusal threshold in force: the environment's, else the handler configuration's. A piece of
    a number has its own, lower one: among digits, a digit-like piece is most likely a digit."""
    if in_numbers:
        return float(os.environ.get(NUMBER_THRESHOLD_ENV, handler_config["not_sure_threshold_in_numbers"]))
    return float(os.environ.get(THRESHOLD_ENV, handler_config["not_sure_threshold"]))


def probabilities(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """(B, 10) calibrated probability of each digit, given that the input is a digit."""
    return torch.softmax(logits[:, :10].float() / temperature, dim=1)


def digit_score(logits: torch.Tensor, temperature: float = 1.0, method: str = "extra") -> torch.Tensor:
    """(B,) how much the input looks like a Bengali digit; compare it with a threshold."""
    scaled = logits.float() / temperature
    if method == "extra":
        if logits.shape[1] < 11:
            raise ValueError("the 'extra' score needs a network with the 11th 'not a digit' output")
        return 1.0 - torch.softmax(scaled, dim=1)[:, 10]
    if method == "msp":
        return probabilities(logits, temperature).max(dim=1).values
    if method == "energy":
        return temperature * torch.logsumexp(scaled[:, :10], dim=1)
    raise ValueError(f"unknown digit score {method!r}; one of {SCORES}")


def classify(logits: torch.Tensor, temperature: float, method: str,
             threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(calibrated probabilities (B, 10), is a digit (B,), digit score (B,)): all that the answers
    of both models, and their evaluation, need from the network's outputs."""
    scores = digit_score(logits, temperature, method).numpy()
    return probabilities(logits, temperature).numpy(), scores >= threshold, scores


def reading(probs: list[float], is_digit: bool) -> dict:
    """What one drawing (or one piece of a number) reads as: a digit, or "not_a_digit" with the best
    guess beside it."""
    guess = max(range(10), key=probs.__getitem__)
    return {
        "verdict": "digit" if is_digit else "not_a_digit",
        "digit": guess if is_digit else None,
        "bengali": DIGITS[guess] if is_digit else None,
        "best_guess": guess,
        "confidence": round(probs[guess], 6),
    }


def answer(probs: list[float], score: float, threshold: float) -> dict:
    """One prediction's JSON: the reading and the ten probabilities."""
    return {**reading(probs, score >= threshold), "probabilities": [round(p, 6) for p in probs]}
