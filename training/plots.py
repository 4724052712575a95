"""Training curves and confusion matrices as PNGs, where a person would rather look than read."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np


def plot_curves(history: list[dict], path: Path) -> None:
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history])
    ax1.set(xlabel="epoch", ylabel="training loss (label-smoothed)", title="training loss")
    for key in history[0]:
        if key not in ("epoch", "minutes", "train_loss"):
            ax2.plot(epochs, [100 * (1 - h[key]) for h in history], label=key)
    ax2.set(xlabel="epoch", ylabel="error %", yscale="log", title="validation error (EMA weights)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(confusion: np.ndarray, title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(np.log1p(confusion), cmap="Blues")
    for i in range(10):
        for j in range(10):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if i == j else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(row: dict, path: Path, labels: tuple[str, ...] = ("before", "after")) -> None:
    """Reliability diagram, before and after calibration: accuracy against mean confidence per bin."""
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4.4), sharey=True)
    for ax, label in zip(axes, labels, strict=True):
        bins = [b for b in row[label]["reliability"] if b["n"]]
        centres = [(b["low"] + b["high"]) / 2 for b in bins]
        width = bins[0]["high"] - bins[0]["low"] if bins else 0.05
        ax.bar(centres, [b["accuracy"] for b in bins], width=width * 0.9, color="#4c72b0", label="accuracy")
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="#dd8452",
                label="mean confidence")
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        for c, b in zip(centres, bins, strict=True):
            ax.text(c, 0.02, str(b["n"]), ha="center", fontsize=6, rotation=90)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="top probability (15 bins)",
               title=f"{label}: ECE {row[label]['ece']:.2%}, NLL {row[label]['nll']:.3f}")
    axes[0].set_ylabel("accuracy in bin")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
