"""`make retrain`: the gate's decision on figures, and end to end (`python -m training.retrain` as a
subprocess on the real data, a few steps, small evaluation samples): a run whose corrections it
learns is accepted and writes calibrated weights; a run that wrecks the model is refused and writes
nothing. Neither touches the committed weights or the served threshold."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bengali_digit import network
from bengali_digit.catalog import MODEL_CONFIG, ROOT, WEIGHTS
from synthetic.digit_images import MissingFont, bengali_fonts
from synthetic.strokes import draw, font_strokes
from tests.conftest import SHARED_DATA, needs_shared_data
from training import gate, nondigits, retrain, scribbles

# A few steps on small samples: each run takes about 15-25 s on 2 cores, too slow for the in-process
# tier's budget, so the two end-to-end runs are in the slow (`server`) tier; the gate's logic is not.
QUICK = ["--max-steps", "20", "--train-limit", "400", "--eval-limit", "150", "--share", "0.3", "--threads", "1"]


def figures(**values: float) -> dict[str, dict]:
    base = {name: {"n": 1000, "value": 0.95} for name in gate.GATED}
    return base | {name: {"n": 1000, "value": v} for name, v in values.items()}


def test_the_gate_accepts_a_fall_up_to_the_tolerance_with_corrections_read_better():
    before = figures(corrections=0.5)
    after = figures(corrections=0.6, **{"isi-10pct": 0.949, "canvas-numta": 0.96})
    assert gate.failures(before, after, tolerance_pp=0.1) == []
    assert "ok (rises)" in gate.table(before, after, 0.1)


def test_the_gate_names_each_figure_that_falls_and_corrections_that_do_not_rise():
    before = figures(corrections=0.5)
    after = figures(corrections=0.5, **{"nondigits": 0.94, "numta-20pct": 0.9488})
    why = gate.failures(before, after, tolerance_pp=0.1)
    assert len(why) == 3
    assert any(gate.GATED["nondigits"] in w and "1.00 pp" in w for w in why)
    assert any(gate.GATED["numta-20pct"] in w for w in why)
    assert any("corrections are not read better" in w for w in why)
    assert gate.table(before, after, 0.1).count("FALLS") == 2


def test_corrections_that_copy_an_image_the_gate_scores_are_found():
    """Trained on, they would inflate the figures that judge the model; other drawings pass."""
    rng = np.random.default_rng(0)
    scored = rng.random((50, 28, 28), dtype=np.float32)
    sets = {"canvas-isi": (scored, np.ones(50, dtype=bool), np.zeros(50, np.int64))}
    corrections = np.concatenate([scored[:3] * 0.9 + 0.01, rng.random((4, 28, 28), dtype=np.float32)])
    np.testing.assert_array_equal(retrain.copies_of(corrections, sets), [True] * 3 + [False] * 4)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Corrections: Bengali font digits traced and drawn with the page's pen by a writer who slants
    50°, which the committed model reads about half right; non-digits: scribbles (a few hundred)."""
    for name in ("bn_digits_train.npz", "canvas_val.npz"):
        needs_shared_data(name)
    try:
        fonts = bengali_fonts()[:6]
    except MissingFont as err:
        pytest.skip(str(err))
    folder = tmp_path_factory.mktemp("retrain")
    x = [np.asarray(draw(font_strokes(d, f), 18).rotate(50, fillcolor=255)) for d in range(10) for f in fonts]
    np.savez(folder / "corrections.npz", x=np.stack(x), y=np.repeat(np.arange(10), len(fonts)))
    np.savez(folder / "nondigits.npz", train_scribbles=nondigits.prepared(scribbles.make(200, seed=1)[0], "train"),
             val_scribbles=nondigits.prepared(scribbles.make(150, seed=2)[0], "validate"))
    return {"corrections": folder / "corrections.npz", "nondigits": folder / "nondigits.npz"}


def run_retrain(inputs: dict[str, Path], run: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`python -m training.retrain` as `make retrain` runs it; (the process, its report)."""
    protected = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (WEIGHTS, MODEL_CONFIG)}
    done = subprocess.run(
        [sys.executable, "-m", "training.retrain", "--data", str(SHARED_DATA), "--feedback", str(inputs["corrections"]),
         "--nondigits", str(inputs["nondigits"]), "--run-dir", str(run), "--out", str(run / "new.pt"), *QUICK, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode in (gate.ACCEPTED, gate.REFUSED), done.stderr[-3000:]
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in protected} == protected
    for label in gate.LABELS.values():
        assert label in done.stdout
    report = json.loads((run / "report.json").read_text())
    assert report["accepted"] == (done.returncode == gate.ACCEPTED) == (run / "new.pt").exists()
    return done, report


@pytest.mark.server
def test_retrain_writes_calibrated_weights_when_the_gate_accepts(inputs, tmp_path):
    """A tolerance wider than any fall leaves the corrections to decide: learnt, they must pass."""
    done, report = run_retrain(inputs, tmp_path, "--lr", "1e-3", "--tolerance", "100")
    assert done.returncode == gate.ACCEPTED, done.stdout[-3000:]
    assert "ACCEPTED" in done.stdout and report["weights"] == str(tmp_path / "new.pt")
    assert report["after"]["corrections"]["value"] > report["before"]["corrections"]["value"]
    model, meta = network.load_with_meta(tmp_path / "new.pt")
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 11)
    assert meta["temperature"] == pytest.approx(report["temperature"]) and meta["digit_score"] == "extra"


@pytest.mark.server
def test_retrain_refuses_a_wrecked_model_and_writes_nothing(inputs, tmp_path):
    """A learning rate thousands of times too high wrecks the network: the gate must refuse it and
    name the validation figures that fell."""
    done, report = run_retrain(inputs, tmp_path, "--lr", "3")
    assert done.returncode == gate.REFUSED, done.stdout[-3000:]
    assert "REFUSED" in done.stdout and report["weights"] is None
    assert any(gate.GATED["canvas-isi"] in why for why in report["failures"])
