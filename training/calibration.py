"""Measures of calibration and of refusal, and the temperature fit: numpy in, numbers out.
Shared by `training.calibrate` (which picks what ships) and `training.evaluate` (which reports)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import rankdata

ECE_BINS = 15


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels."""
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean())


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: |accuracy - mean confidence| over equal-width bins of the top
    probability, weighted by how many answers fall in each."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.mean() * abs(correct[m].mean() - confidence[m].mean())
    return float(total)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per bin: its range, how many answers, their mean confidence and accuracy (for the diagram)."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [{"low": float(edges[b]), "high": float(edges[b + 1]), "n": int((which == b).sum()),
             "confidence": float(confidence[which == b].mean()) if (which == b).any() else None,
             "accuracy": float(correct[which == b].mean()) if (which == b).any() else None}
            for b in range(bins)]


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T that minimises the NLL of softmax(logits / T) on held-out labels (Guo et al.
    2017); searched over log T, so it stays positive."""
    result = minimize_scalar(lambda log_t: nll(softmax(logits, float(np.exp(log_t))), labels),
                             bounds=(np.log(0.05), np.log(20.0)), method="bounded",
                             options={"xatol": 1e-5})
    return float(np.exp(result.x))


def auroc(digit_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """Probability that a random digit scores above a random non-digit (ties count half)."""
    ranks = rankdata(np.concatenate([digit_scores, other_scores]))  # ties get their mean rank
    n, m = len(digit_scores), len(other_scores)
    return float((ranks[:n].sum() - n * (n + 1) / 2) / (n * m))


def threshold_keeping(digit_scores: np.ndarray, keep: float) -> float:
    """The highest threshold that still keeps (scores >= threshold) at least `keep` of the digits."""
    ordered = np.sort(digit_scores)
    return float(ordered[int(np.floor((1 - keep) * len(ordered) + 1e-9))])  # 1e-9: (1 - 0.9) * 1000 is 99.99…
