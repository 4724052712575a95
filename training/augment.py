"""Augmentation that mimics how people draw on the page: slanted, rotated, shifted and resized digits,
wobbly strokes, thin and thick pens, soft edges. Works on ink images in [0, 1], (1, 28, 28) or a batch
(B, 1, 28, 28)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms import v2


def dilate(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


def erode(x: torch.Tensor) -> torch.Tensor:
    thin = -F.max_pool2d(-x, 3, stride=1, padding=1)
    return thin if thin.sum() > 0.4 * x.sum() else x  # never erase a thin stroke


def build() -> v2.Compose:
    return v2.Compose([
        v2.RandomApply([v2.RandomChoice([v2.Lambda(dilate), v2.Lambda(erode)])], p=0.3),
        v2.RandomAffine(degrees=12, translate=(0.06, 0.06), scale=(0.85, 1.08), shear=(-8, 8, -8, 8)),
        v2.RandomApply([v2.ElasticTransform(alpha=20.0, sigma=4.0)], p=0.3),
        v2.RandomApply([v2.GaussianBlur(3, sigma=(0.3, 0.9))], p=0.2),
    ])
