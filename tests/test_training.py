"""Data loaders, one-step training runs (digits, and "not sure" fine-tuning), calibration and the
evaluation CLI, all on data generated here."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest
import torch
from PIL import ImageOps

from bengali_digit import DIGITS, catalog, network
from synthetic.digit_images import bengali_fonts, render_digit
from synthetic.strokes import SCRIBBLES, draw
from training import calibrate, data, evaluate, scribbles, train


def small_digits(n_per_class: int, size: int = 28, glyph_px: int = 14) -> tuple[np.ndarray, np.ndarray]:
    """Font digits as the training file stores them: ink 255 on 0."""
    fonts = bengali_fonts()
    xs, ys = [], []
    for d in range(10):
        for i in range(n_per_class):
            center = (size // 2 + i % 3 - 1, size // 2)
            im = render_digit(d, fonts[i % len(fonts)], glyph_px + i % 5, center, size=size)
            xs.append(np.asarray(ImageOps.invert(im)))
            ys.append(d)
    return np.stack(xs), np.array(ys, dtype=np.uint8)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """A miniature of ../shared/data: bn_digits_train.npz and canvas_val.npz in one folder."""
    folder = tmp_path_factory.mktemp("data")
    nx, ny = small_digits(8)
    ix, iy = small_digits(4, glyph_px=26)
    np.savez(folder / data.PACKED_FILE, numta_x=nx, numta_y=ny, numta_src=np.arange(len(ny)) % 4,
             isi_x=ix, isi_y=iy)
    cx, cy = small_digits(2, size=280, glyph_px=150)
    np.savez(folder / data.CANVAS_FILE, x=255 - cx, y=cy, src=np.arange(len(cy)) % 2,
             index=np.arange(len(cy), dtype=np.int32))
    return folder


def test_packed_loader(packed):
    numta, isi = data.load_numta_and_isi(packed)
    assert len(numta) == 80 and len(isi) == 40
    assert numta.x.shape == (80, 28, 28) and set(numta.src) == {0, 1, 2, 3} and set(isi.src) == {-1}
    same, _ = data.load_numta_and_isi(packed / data.PACKED_FILE)
    np.testing.assert_array_equal(same.y, numta.y)


def test_numtadb_published_layout(tmp_path):
    """Folders training-a ... of PNGs with training-X.csv (filename, digit), dark ink on light, any size."""
    fonts = bengali_fonts()
    for s, count in (("a", 10), ("c", 5)):
        (tmp_path / f"training-{s}").mkdir()
        with open(tmp_path / f"training-{s}.csv", "w", newline="") as f:
            w = csv.writer(f)
            # NumtaDB's own columns; the loader reads `filename` and `digit` by name
            w.writerow(["original filename", "scanid", "digit", "database name original", "contributing team",
                        "database name", "filename"])
            for i in range(count):
                name = f"{s}{i:05d}.png"
                image = render_digit(i % 10, fonts[0], 120, (90, 90), size=180).convert("RGB")
                image.save(tmp_path / f"training-{s}" / name)
                w.writerow([f"orig{i}.jpg", i, i % 10, f"BHDDB{s}", "team", f"training-{s}", name])
    digits = data.load_numtadb(tmp_path)
    assert len(digits) == 15 and list(digits.y[:10]) == list(range(10))
    assert list(np.unique(digits.src)) == [0, 2]
    assert digits.x[0].shape == (180, 180)
    numta, isi = data.load_numta_and_isi(tmp_path)
    assert isi is None and len(numta) == 15
    prepared, kept = data.prepare_all(numta.x)
    assert kept.all() and prepared.shape == (15, 28, 28)


def test_the_split_is_fixed_and_disjoint():
    a_train, a_held = data.split("numta", 1000)
    _, b_held = data.split("numta", 1000)
    np.testing.assert_array_equal(a_held, b_held)
    assert len(a_held) == round(1000 * catalog.HELD_OUT["numta"])
    assert not set(a_train) & set(a_held) and len(a_train) + len(a_held) == 1000


def test_one_step_training_run(packed, tmp_path):
    run = tmp_path / "run"
    metrics = train.main(["--data", str(packed), "--epochs", "1", "--max-steps", "1", "--batch-size", "32",
                          "--threads", "1", "--run-dir", str(run), "--save", str(tmp_path / "w.pt")])
    assert metrics["history"][0]["epoch"] == 1
    assert {"numta-20pct", "isi-10pct", "canvas", "canvas-isi", "canvas-numta"} <= set(metrics["validation"])
    for name in ("metrics.json", "curves.png", "confusion-canvas.png", "model.pt"):
        assert (run / name).stat().st_size > 0, name
    model = network.load(tmp_path / "w.pt")
    assert not model.training
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_evaluation_cli_on_a_generated_npz(tmp_path, capsys):
    """Any npz: canvas-sized digits in both polarities, through the committed weights."""
    x, y = small_digits(2, size=200, glyph_px=120)
    x = np.concatenate([x, 255 - x])
    y = np.concatenate([y, y])
    np.savez(tmp_path / "set.npz", x=x, y=y)
    out = tmp_path / "result.json"
    evaluate.main([str(tmp_path / "set.npz"), "--out", str(out)])
    result = json.loads(out.read_text())
    assert set(result) >= {"n", "accuracy", "per_class", "confusion"}
    confusion = np.array(result["confusion"])
    assert result["n"] == 40 and confusion.sum() == 40 and confusion[:, 10].sum() == round(40 * result["refused"])
    assert len(result["per_class"]) == 10 and 0 <= result["ece"] <= 1
    printed = capsys.readouterr().out
    assert "read right" in printed and "৯" in printed


def test_evaluation_cli_reports_non_digits_by_source(tmp_path, capsys):
    x, y = small_digits(2, size=200, glyph_px=120)
    np.savez(tmp_path / "digits.npz", x=255 - x, y=y)
    others = np.stack([255 - np.asarray(draw(s, w)) for s in SCRIBBLES.values() for w in (10, 18)])
    np.savez(tmp_path / "others.npz", x=others, src=np.arange(len(others)) % 2)
    result = evaluate.main([str(tmp_path / "digits.npz"), "--nondigits", str(tmp_path / "others.npz")])
    nd = result["nondigits"]
    assert nd["n"] == len(others) and set(nd["by_source"]) == {"0", "1"}
    assert sum(r["n"] for r in nd["by_source"].values()) == len(others)
    assert 0 <= nd["auroc"] <= 1 and 0 <= nd["refused_at_99pct_kept"] <= 1
    assert "src 1" in capsys.readouterr().out


def test_outlier_exposure_fine_tune_grows_a_not_a_digit_output(packed, tmp_path):
    """--init from the committed weights with --nondigits: one step, and the checkpoint has 11 outputs."""
    images, _ = scribbles.make(16, seed=0)
    prepared, kept = data.prepare_all(images)
    np.savez(tmp_path / "nd.npz", train_scribbles=(prepared[kept] * 255).astype(np.uint8))
    train.main(["--data", str(packed), "--init", str(catalog.WEIGHTS), "--nondigits", str(tmp_path / "nd.npz"),
                "--ood", "extra", "--epochs", "1", "--max-steps", "1", "--batch-size", "16", "--ood-batch", "8",
                "--threads", "1", "--run-dir", str(tmp_path / "run"), "--save", str(tmp_path / "w.pt")])
    model = network.load(tmp_path / "w.pt")
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 11)


def test_calibration_writes_the_threshold_line(tmp_path):
    config = tmp_path / "model-config.yaml"
    config.write_text("handler:\n  torch_threads: 1\n  not_sure_threshold: 0.5  # why\n")
    calibrate.write_threshold(0.123456789, config)
    assert config.read_text() == "handler:\n  torch_threads: 1\n  not_sure_threshold: 0.123457  # why\n"


def test_redrawn_copies_keep_the_digit():
    from training.redraw import redraw

    x, _ = small_digits(1, glyph_px=18)
    for im in x:
        drawn = redraw(im, 0.12)
        assert drawn.shape == (28 * 6, 28 * 6) and drawn.max() == 255
        a, b = data.prepare_all([im, drawn])[0]
        assert np.abs(a - b).mean() < 0.2


@pytest.mark.parametrize("arch", sorted(network.ARCHITECTURES))
def test_folding_batch_norm_keeps_the_function(arch):
    torch.manual_seed(0)
    model = network.build(arch, **({"width": 8} if arch == "digitnet" else {}))
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):  # trained-looking norms
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.2, 3)
        bn.weight.data.uniform_(0.5, 2)
        bn.bias.data.uniform_(-1, 1)
    model.eval()
    x = torch.rand(4, 1, 28, 28)
    expected = model(x)
    folded = network.fold_batch_norm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    torch.testing.assert_close(folded(x), expected, atol=1e-4, rtol=1e-4)


def test_checkpoint_round_trip(tmp_path):
    model = network.build("digitnet", width=8)
    torch.save(network.checkpoint(model, "digitnet", {"width": 8}, {"note": "test"}), tmp_path / "c.pt")
    loaded = network.load(tmp_path / "c.pt")
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(loaded(x), model.eval()(x))


def test_font_glyphs_never_include_a_bengali_digit():
    """The non-digit glyphs must not teach the network to refuse the digits it reads."""
    from synthetic.digit_images import latin_font
    from training import glyphs

    chars = {c for _, c in glyphs.characters()}
    assert not chars & set(DIGITS)
    image = glyphs.render("5", str(latin_font()), 80, 0)
    assert image.shape == (28, 28) and image.max() > 200 and image[0].max() == 0 and image[:, 0].max() == 0


def identities(digits: data.Digits) -> set[tuple[str, int]]:
    """(collection, row) of each image: src -1 is ISI, else a NumtaDB source."""
    return {("isi" if s < 0 else "numta", int(r)) for s, r in zip(digits.src, digits.row, strict=True)}


@pytest.mark.parametrize("holdout_source", [None, "b"])
def test_training_never_sees_an_evaluation_row(packed, holdout_source):
    """What a training run trains on shares no row with what it validates on, nor with the rows that
    canvas_val redrew; and the committed recipe's held-out sets, loaded as `make evaluate` loads
    them, hold no image it trained on."""
    args = argparse.Namespace(data=packed, holdout_source=holdout_source, isi_repeat=2)
    trained, validated, canvas = train.training_split(args)
    seen = identities(trained)
    assert len(seen) > 50  # it trains on something
    for name, digits in validated.items():
        assert len(digits) and not seen & identities(digits), name
    redrawn = {(data.CANVAS_COLLECTIONS[int(s)], int(i)) for s, i in zip(canvas["src"], canvas["index"], strict=True)}
    assert redrawn and not seen & redrawn
    if holdout_source is None:
        images = {im.tobytes() for im in trained.x}
        for name in data.HELD_OUT_SETS.values():
            x, _ = evaluate.load_set(name, packed)
            assert len(x) and not images & {im.tobytes() for im in x}, name
