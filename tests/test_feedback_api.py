"""POST /api/feedback in-process (Flask's test client, a SQLite file of the test's own): a correction
is kept exactly as sent; every kind of bad one is refused with its code and nothing is kept; the rate
limit; and a database that is down, full, read-only, corrupt or unmigrated answers 503 there while
predictions go on without touching it."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import event, text

from bengali_digit.limits import FEEDBACK_STATUS_BY_CODE, MAX_IMAGE_BYTES
from bengali_digit.strokes import MAX_POINTS, MAX_STROKES
from feedback import settings
from feedback.migrate import upgrade
from gateway import create_app
from gateway.ratelimit import SlidingWindow
from gateway.upstream import Answer
from service.processes import free_port
from synthetic.bad_inputs import bomb_png, data_url
from synthetic.corrections import correction, drawing
from tests import answers

FEEDBACK = "/api/feedback"


def make_app(tmp_path, **config):
    return create_app({"FEEDBACK_DIR": str(tmp_path), "TORCHSERVE_URL": f"http://127.0.0.1:{free_port()}",
                       "CONNECT_TIMEOUT": 0.5, **config})


@pytest.fixture
def app(tmp_path):
    upgrade(settings.database_url(None, tmp_path))
    app = make_app(tmp_path)
    yield app
    app.extensions["feedback"].store.dispose()


def kept(app) -> list:
    return app.extensions["feedback"].store.listing()


def check_error(r, status: int, code: str) -> dict:
    return answers.check_error(r, status, code, gateway=True)  # Flask's test responses read like requests'


def test_a_correction_is_kept_exactly_as_sent(app, tmp_path):
    sent = correction(7)
    r = app.test_client().post(FEEDBACK, json=sent)
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store", r.get_data(as_text=True)
    row = app.extensions["feedback"].store.get(r.get_json()["id"])
    assert (row.label, row.predicted, row.model_version, row.status) == (7, sent["predicted"], "1.0", "new")
    assert row.probabilities == sent["probabilities"] and row.strokes == sent["strokes"]
    assert row.image == drawing(7)
    # the client as a salted hash, the salt kept in the data folder; the address nowhere
    salt = (tmp_path / settings.SALT_FILE).read_bytes().strip()
    assert row.client == settings.client_hash(salt, "127.0.0.1") and "127.0.0.1" not in row.client
    assert row.created_at.utcoffset().total_seconds() == 0


def test_only_image_and_label_are_required(app):
    r = app.test_client().post(FEEDBACK, json={"image": correction(2)["image"], "label": 2})
    assert r.status_code == 201
    [row] = kept(app)
    assert (row.label, row.predicted, row.probabilities, row.model_version, row.strokes) == (2, None, None, None, None)


def line(points: int) -> list[list[float]]:
    return [[float(i % 280), 140.0, float(i)] for i in range(points)]


# (body or raw request, status, code): exactly one thing wrong in each
BAD = {
    "no label": ({"image": correction()["image"]}, 400, "bad_label"),
    "label null": (correction(label=None), 400, "bad_label"),
    "label a string": (correction(label="3"), 400, "bad_label"),
    "label a bool": (correction(label=True), 400, "bad_label"),
    "label a float": (correction(label=3.0), 400, "bad_label"),
    "label 10": (correction(label=10), 400, "bad_label"),
    "label -1": (correction(label=-1), 400, "bad_label"),
    "no image": ({k: v for k, v in correction().items() if k != "image"}, 400, "missing_image"),
    "image a number": (correction(image=12), 400, "bad_request"),
    "image empty": (correction(image=""), 400, "empty_input"),
    "image not base64": (correction(image="data:image/png;base64,@@@"), 400, "bad_base64"),
    "image not an image": (correction(image=data_url(b"hello, not a picture")), 415, "not_an_image"),
    "image of a text type": (correction(image=data_url(drawing(3), "text/plain")), 415, "unsupported_media_type"),
    "image too many pixels": (correction(image=data_url(bomb_png(5000))), 413, "image_too_large"),
    "image data over 4 MiB": (correction(image=data_url(b"\x89PNG" + bytes(MAX_IMAGE_BYTES))), 413, "image_too_large"),
    "body over the limit": (correction(strokes=[line(9000)] * 30), 413, "image_too_large"),
    "not JSON": ((b'{"label": 3, "image": ', "application/json"), 400, "bad_request"),
    "JSON not an object": ((b"[3]", "application/json"), 400, "bad_request"),
    "an image body": ((drawing(3), "image/png"), 415, "unsupported_media_type"),
    "predicted 10": (correction(predicted=10), 400, "bad_feedback"),
    "predicted a string": (correction(predicted="8"), 400, "bad_feedback"),
    "predicted a bool": (correction(predicted=False), 400, "bad_feedback"),
    "nine probabilities": (correction(probabilities=[0.1] * 9), 400, "bad_feedback"),
    "a probability over 1": (correction(probabilities=[1.5] + [0.0] * 9), 400, "bad_feedback"),
    "a probability NaN": ((json.dumps(correction(probabilities=[float("nan")] * 10)).encode(), "application/json"),
                          400, "bad_feedback"),
    "model version a number": (correction(model_version=1.0), 400, "bad_feedback"),
    "model version empty": (correction(model_version=""), 400, "bad_feedback"),
    "model version too long": (correction(model_version="v" * 65), 400, "bad_feedback"),
    "strokes a string": (correction(strokes="M 0 0 L 10 10"), 400, "bad_strokes"),
    "an empty stroke": (correction(strokes=[[]]), 400, "bad_strokes"),
    "a point of one number": (correction(strokes=[[[1.0]]]), 400, "bad_strokes"),
    "a point with a string": (correction(strokes=[[["1", 2.0, 0.0]]]), 400, "bad_strokes"),
    "a point with a bool": (correction(strokes=[[[1.0, True, 0.0]]]), 400, "bad_strokes"),
    "too many points": (correction(strokes=[line(MAX_POINTS + 1)]), 413, "too_many_points"),
    "too many strokes": (correction(strokes=[line(1)] * (MAX_STROKES + 1)), 413, "too_many_points"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_feedback_is_refused_and_nothing_kept(app, name):
    sent, status, code = BAD[name]
    client = app.test_client()
    if isinstance(sent, tuple):
        r = client.post(FEEDBACK, data=sent[0], content_type=sent[1])
    else:
        r = client.post(FEEDBACK, json=sent)
    check_error(r, status, code)
    assert kept(app) == []


def test_every_code_of_a_correction_is_owed_to_some_case():
    assert set(FEEDBACK_STATUS_BY_CODE) <= {code for _, _, code in BAD.values()}


def test_rate_limit_per_client_answers_429_with_retry_after(tmp_path):
    upgrade(settings.database_url(None, tmp_path))
    app = make_app(tmp_path, FEEDBACK_RATE_LIMIT=2)
    client = app.test_client()
    assert [client.post(FEEDBACK, json=correction()).status_code for _ in range(2)] == [201, 201]
    r = client.post(FEEDBACK, json=correction())
    check_error(r, 429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert len(kept(app)) == 2
    other = client.post(FEEDBACK, json=correction(), environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 201  # another client has a limit of its own


def unreachable(tmp_path) -> str:
    return f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/feedback"


def read_only(tmp_path) -> str:
    upgrade(settings.database_url(None, tmp_path))  # root ignores file modes; SQLite's own read-only mode does not
    return f"sqlite:///file:{tmp_path / settings.DATABASE_FILE}?mode=ro&uri=true"


def corrupt(tmp_path) -> str:
    (tmp_path / "corrupt.sqlite3").write_bytes(b"this is not a database file " * 200)
    return f"sqlite:///{tmp_path / 'corrupt.sqlite3'}"


def not_migrated(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'empty.sqlite3'}"


def full(tmp_path) -> str:
    return settings.database_url(None, tmp_path)  # made full by fill_up below


DOWN = {"unreachable server": unreachable, "read-only file": read_only, "corrupt file": corrupt,
        "no schema": not_migrated, "full": full, "URL that does not parse": lambda _: "not a url"}


def fill_up(app) -> None:
    """SQLite's page limit set to what the file has: the next row finds the database full."""
    upgrade(app.extensions["feedback"].store.url)

    def no_room(connection, _):
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(app.extensions["feedback"].store.engine, "connect", no_room)


@pytest.mark.parametrize("how", DOWN)
def test_database_down_answers_503_and_predictions_go_on(tmp_path, how):
    app = make_app(tmp_path, DATABASE_URL=DOWN[how](tmp_path))  # the gateway starts regardless
    store = app.extensions["feedback"].store
    client = app.test_client()
    # a prediction, answered by a stand-in for TorchServe, never makes so much as the engine
    app.extensions["torchserve"].predict = lambda image, kind="digit", strokes=None: Answer(200, {"digit": 3})
    assert client.post("/api/predict", data=drawing(3), content_type="image/png").status_code == 200
    assert store._engine is None
    if how == "full":
        fill_up(app)
    r = client.post(FEEDBACK, json=correction(strokes=[line(3000)]))  # more than one page of SQLite's
    check_error(r, 503, "feedback_unavailable")
    assert int(r.headers["Retry-After"]) > 0
    assert client.post("/api/predict", data=drawing(3), content_type="image/png").status_code == 200
    assert client.get("/healthz").status_code == 200
    if how in ("full", "read-only file"):
        with store.engine.connect() as connection:  # nothing was kept
            assert connection.execute(text("SELECT count(*) FROM corrections")).scalar() == 0


def test_a_data_folder_that_cannot_hold_the_salt_answers_503(tmp_path):
    (tmp_path / "file").write_text("a file where the data folder should be")
    app = make_app(tmp_path / "file", DATABASE_URL=settings.database_url(None, tmp_path))
    check_error(app.test_client().post(FEEDBACK, json=correction()), 503, "feedback_unavailable")


def test_a_salt_setting_needs_no_file(tmp_path):
    upgrade(settings.database_url(None, tmp_path))
    app = make_app(tmp_path, FEEDBACK_SALT="s3cret")
    assert app.test_client().post(FEEDBACK, json=correction()).status_code == 201
    assert kept(app)[0].client == settings.client_hash(b"s3cret", "127.0.0.1")
    assert not (tmp_path / settings.SALT_FILE).exists()


def test_the_salt_is_made_once_and_kept(tmp_path):
    first = settings.salt(None, tmp_path / "data")
    assert len(first) == 64 and settings.salt(None, tmp_path / "data") == first
    assert [p.name for p in (tmp_path / "data").iterdir()] == [settings.SALT_FILE]


def test_base64_without_a_data_url_is_accepted_too(app):
    body = correction(image=base64.b64encode(drawing(4)).decode(), label=4)
    assert app.test_client().post(FEEDBACK, json=body).status_code == 201


def test_sliding_window_forgets_what_is_a_window_old():
    now = [0.0]
    window = SlidingWindow(2, 60.0, clock=lambda: now[0])
    assert window.hit("a") is None and window.hit("a") is None
    assert window.hit("a") == pytest.approx(60.0) and window.hit("b") is None  # refused, not counted
    now[0] = 30.0
    assert window.hit("a") == pytest.approx(30.0)
    now[0] = 60.5
    assert window.hit("a") is None and window.hit("a") is None and window.hit("a") is not None
    now[0] = 200.0
    window.hit("c")
    assert set(window.events) == {"c"}  # a and b swept: memory follows the recent clients alone


@pytest.mark.parametrize(("hops", "separate"), [(0, False), (1, True)])
def test_clients_behind_a_proxy_are_told_apart_only_when_it_is_trusted(tmp_path, hops, separate):
    """With PROXY_HOPS=1 (an Ingress in front) the client is the hop X-Forwarded-For ends with; with 0
    the header is ignored, or a client could name a new address for each request and never be limited."""
    upgrade(settings.database_url(None, tmp_path))
    client = make_app(tmp_path, FEEDBACK_RATE_LIMIT=1, PROXY_HOPS=hops).test_client()
    statuses = [client.post(FEEDBACK, json=correction(), headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
                for i in (1, 2)]
    assert statuses == ([201, 201] if separate else [201, 429])
