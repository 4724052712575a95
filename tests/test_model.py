"""The committed weights, through the serving preprocessing: font digits, determinism, and (where
../shared/data is present) the held-out figures the model card states."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bengali_digit import network
from bengali_digit.preprocess import prepare
from tests.conftest import needs_shared_data
from tests.digit_images import bengali_fonts, variants
from training import evaluate
from training.metrics import predict_arrays

WEIGHTS = evaluate.DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def model():
    return network.load(WEIGHTS)


def test_committed_weights_are_small_and_in_eval_mode(model):
    assert WEIGHTS.stat().st_size < 5 * 1024 * 1024
    assert sum(p.numel() for p in model.parameters()) <= 1_000_000
    assert not model.training


def test_recognises_font_rendered_digits(model):
    """Every digit in every Bengali font found, at three sizes, places and stroke widths."""
    cases = variants(bengali_fonts())
    x = np.stack([prepare(image) for _, image, _ in cases])
    y = np.array([d for d, _, _ in cases])
    pred = predict_arrays(model, x).argmax(1)
    accuracy = float((pred == y).mean())
    wrong = [f"{desc}: {d}→{p}" for (d, _, desc), p in zip(cases, pred, strict=True) if d != p]
    print(f"font digits: {accuracy:.1%} of {len(y)} right; wrong: {wrong}")
    assert accuracy >= 0.90


def test_same_answer_alone_and_in_any_batch(model):
    cases = variants(bengali_fonts()[:1])
    x = torch.from_numpy(np.stack([prepare(image) for _, image, _ in cases]))[:, None]
    with torch.inference_mode():
        batched = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(len(x))])
        again = model(x.flip(0)).flip(0)
    torch.testing.assert_close(batched, alone, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(batched, again, atol=1e-4, rtol=1e-4)


# Regression floors a little under the committed model's figures. The issue asks 99.7 % on ISI's held-out
# 10 %; the committed model has 99.56 % (8 of 1,800 wrong), so that floor guards what is, not the aim.
@pytest.mark.parametrize(("name", "floor"), [("numta-20pct", 0.9945), ("isi-10pct", 0.995), ("canvas", 0.95),
                                             ("canvas-isi", 0.98), ("canvas-numta", 0.92)])
def test_held_out_figures(name, floor):
    """The committed model never trained on these rows (see docs/model-card.md)."""
    needs_shared_data("bn_digits_train.npz")
    x, y = evaluate.load_set(name, evaluate.data.DEFAULT_DATA_DIR)
    result = evaluate.evaluate(x, y)
    print(f"{name}: {result['accuracy']:.4%} of {result['n']}")
    assert result["accuracy"] >= floor
