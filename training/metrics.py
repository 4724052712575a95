"""Accuracy, confusion and the per-class table, shared by training and the evaluation CLI."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bengali_digit import DIGITS


@torch.inference_mode()
def logits_arrays(model: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Raw outputs (N, 10 or 11) for prepared images (N, 28, 28) in [0, 1]."""
    model.eval()
    chunks = np.array_split(x, max(1, len(x) // batch_size))
    out = [model(torch.from_numpy(b)[:, None].float()) for b in chunks]
    return torch.cat(out).numpy() if out else np.zeros((0, 10), np.float32)


def predict_arrays(model: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Digit probabilities (N, 10), uncalibrated; an 11th "not a digit" output is left aside."""
    return torch.softmax(torch.from_numpy(logits_arrays(model, x, batch_size))[:, :10], 1).numpy()


def evaluate_arrays(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    pred = predict_arrays(model, x).argmax(1) if len(y) else np.zeros(0, np.int64)
    return float((pred == y).mean()) if len(y) else float("nan"), pred


def confusion_matrix(y: np.ndarray, pred: np.ndarray, columns: int = 10) -> np.ndarray:
    """Rows: true digit, columns: predicted digit (and, with columns=11, a last one for refusals)."""
    m = np.zeros((10, columns), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def per_class(confusion: np.ndarray) -> list[dict]:
    return [
        {"digit": d, "bengali": DIGITS[d], "n": int(confusion[d].sum()), "correct": int(confusion[d, d]),
         "accuracy": float(confusion[d, d] / confusion[d].sum()) if confusion[d].sum() else float("nan")}
        for d in range(10)
    ]


def format_table(rows: list[dict]) -> str:
    lines = ["digit      correct / total   accuracy"]
    lines += [f"{r['digit']} ({r['bengali']})   {r['correct']:>9} / {r['n']:<7} {r['accuracy']:8.2%}" for r in rows]
    return "\n".join(lines)
