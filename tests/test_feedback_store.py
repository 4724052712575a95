"""The corrections' storage on both databases it runs on: the embedded SQLite file and a real
PostgreSQL server (a throwaway cluster of the test session's, tests/postgres.py; those cases are
server tier). The migrations build exactly the models' schema; a row comes back as it went in; the
constraints hold; review; and the export gives back exactly the labels sent, rejected rows left out,
in the format `make evaluate` reads."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image
from sqlalchemy.exc import IntegrityError

from bengali_digit.preprocess import prepare, prepare_bytes
from feedback import export, review
from feedback.migrate import upgrade
from feedback.models import Base, Correction
from feedback.store import Store
from feedback.submission import Submission
from gateway import create_app
from synthetic.corrections import correction, drawing, probabilities, strokes
from tests.postgres import Cluster, binaries


@pytest.fixture(scope="module")
def postgres():
    bindir = binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (/usr/lib/postgresql/*/bin): run `sudo make system-deps`")
    cluster = Cluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def url(request, tmp_path) -> str:
    """An empty database, migrated: a SQLite file of the test's own or a PostgreSQL database."""
    url = (f"sqlite:///{tmp_path / 'feedback.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres").new_database())
    upgrade(url)
    return url


@pytest.fixture
def store(url):
    store = Store(url)
    yield store
    store.dispose()


def submission(label: int, predicted: int | None = None) -> Submission:
    return Submission(label=label, predicted=predicted, probabilities=probabilities(predicted or 0),
                      model_version="1.0", strokes=strokes(label))


def test_migrations_build_the_models_schema_and_run_twice(store):
    upgrade(store.url)  # again: nothing to do
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_row_comes_back_as_it_went_in(store):
    before = datetime.now(UTC)
    sent = submission(7, predicted=1)
    row = store.get(store.add(sent, drawing(7), "c" * 64))
    assert (row.label, row.predicted, row.model_version, row.client, row.status) == (7, 1, "1.0", "c" * 64, "new")
    assert row.probabilities == sent.probabilities and row.strokes == sent.strokes and row.image == drawing(7)
    assert before - timedelta(seconds=1) <= row.created_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert row.created_at.utcoffset() == timedelta(0)
    assert store.get(row.id + 1) is None


@pytest.mark.parametrize("field", [{"label": 10}, {"predicted": -1}, {"status": "maybe"}])
def test_the_database_itself_refuses_what_the_checks_would(store, field):
    row = {"label": 3, "image": b"png", "client": "c", **field}
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Correction(**row))


def test_review_and_listing(store):
    ids = [store.add(submission(d), drawing(d), "c") for d in (1, 2, 3)]
    assert store.review(ids[0], "accepted") and store.review(ids[1], "rejected")
    assert not store.review(ids[-1] + 10, "accepted")
    with pytest.raises(ValueError, match="status must be one of"):
        store.review(ids[0], "maybe")
    assert [r.id for r in store.listing()] == ids[::-1]  # newest first
    assert [r.id for r in store.listing("rejected")] == [ids[1]]
    assert [r.id for r in store.listing(limit=1)] == [ids[2]]


def test_export_gives_back_the_labels_sent_rejected_left_out(store, tmp_path):
    labels = [3, 0, 9, 3, 5, 7, 1]
    ids = [store.add(submission(d), drawing(d), "c") for d in labels]
    store.review(ids[1], "rejected")
    store.review(ids[4], "rejected")
    store.review(ids[2], "accepted")
    out = tmp_path / "corrections.npz"
    assert export.export(store, out) == 5
    with np.load(out) as f:
        x, y, id, predicted = f["x"], f["y"], f["id"], f["predicted"]
    assert y.tolist() == [3, 9, 3, 7, 1] and id.tolist() == [ids[i] for i in (0, 2, 3, 5, 6)]
    assert x.shape == (5, 280, 280) and x.dtype == np.uint8 and predicted.tolist() == [-1] * 5
    for image, label in zip(x, y, strict=True):  # what the evaluation reads is what the service read
        assert np.abs(prepare(image) - prepare_bytes(drawing(int(label)))).max() < 0.02
    assert export.export(store, out, ("accepted",)) == 1


def test_the_api_keeps_a_correction_in_either_database(url, tmp_path):
    app = create_app({"DATABASE_URL": url, "FEEDBACK_DIR": str(tmp_path)})
    sent = correction(6)
    r = app.test_client().post("/api/feedback", json=sent)
    assert r.status_code == 201, r.get_data(as_text=True)
    row = app.extensions["feedback"].store.get(r.get_json()["id"])
    app.extensions["feedback"].store.dispose()
    assert (row.label, row.predicted, row.probabilities, row.strokes) == (6, sent["predicted"],
                                                                         sent["probabilities"], sent["strokes"])
    assert row.image == drawing(6)


def test_export_keeps_the_network_input_of_the_page_s_cut(tmp_path):
    """The page sends only the part of its 280 px image that holds the ink: exported unscaled, the
    network reads it exactly as the service did. A larger image is scaled to fit 280 px."""
    full = Image.open(io.BytesIO(drawing(6))).convert("L")
    ys, xs = np.nonzero(np.asarray(full) < 255)
    cut = full.crop((xs.min() - 2, ys.min() - 2, xs.max() + 3, ys.max() + 3))
    big = full.resize((560, 560))
    store = Store(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    upgrade(store.url)
    sent = [png(cut), png(big)]
    for image in sent:
        store.add(submission(6), image, "c")
    export.export(store, tmp_path / "out.npz")
    store.dispose()
    with np.load(tmp_path / "out.npz") as f:
        x = f["x"]
    assert x.shape == (2, 280, 280) and cut.width < 280
    assert np.array_equal(prepare(x[0]), prepare_bytes(sent[0]))
    assert np.abs(prepare(x[1]) - prepare_bytes(sent[1])).max() < 0.05


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_review_and_export_command_lines(url, tmp_path, capsys):
    store = Store(url)
    ids = [store.add(submission(d), drawing(d), "c") for d in (4, 8)]
    store.dispose()
    db = ["--database-url", url]
    assert review.main([*db, "reject", str(ids[1])]) == 0
    assert review.main([*db, "accept", str(ids[0]), str(ids[1] + 5)]) == 1  # one of them is not there
    assert review.main([*db, "list", "--status", "accepted"]) == 0
    assert review.main([*db, "image", str(ids[0]), str(tmp_path / "seen.png")]) == 0
    assert (tmp_path / "seen.png").read_bytes() == drawing(4)
    listed = capsys.readouterr().out
    assert f"{ids[0]:>6}" in listed and "label 4" in listed and "accepted" in listed and "label 8" not in listed
    assert export.main([str(tmp_path / "out.npz"), *db]) == 1
    with np.load(tmp_path / "out.npz") as f:
        assert f["y"].tolist() == [4]


def test_make_evaluate_scores_an_export(tmp_path):
    """The export is a set `make evaluate DATA=` reads and scores: one row a correction."""
    from training import evaluate

    store = Store(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    upgrade(store.url)
    for d in (2, 5):
        store.add(submission(d), drawing(d), "c")
    export.export(store, tmp_path / "out.npz")
    store.dispose()
    result = evaluate.main([str(tmp_path / "out.npz")])
    assert result["n"] == 2 and 0 <= result["accuracy"] <= 1
