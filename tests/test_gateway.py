"""The gateway under gunicorn in front of a real TorchServe: the same answers as TorchServe's own,
for digits and for numbers, input checks before forwarding, 503 when TorchServe is down or slow and
recovery after, probes, security headers and metrics."""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image

from bengali_digit.catalog import MODEL_NAME, MODEL_VERSION, NUMBER_MODEL_NAME
from service.gateway import Gateway
from service.torchserve import TorchServe
from synthetic.bad_inputs import BY_NAME
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit, render_text
from synthetic.strokes import SCRIBBLES, draw, font_numbers, page_json
from tests.answers import assert_same_answer, check_body, check_error
from tests.metrics_page import MetricsPage

FONT = bengali_fonts()[-1]
PNG = {d: png_bytes(render_digit(d, FONT, 150, (140, 140), 3)) for d in range(10)}
# A number as the page's number pad sends it: 280 px tall, three times as wide
NUMBER = "২০২৬"
NUMBER_PNG = png_bytes(render_text(NUMBER, FONT, 150, (420, 140), 3, (840, 280)))


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def via_gateway(gw: Gateway, route: str = "/api/predict", **kwargs) -> requests.Response:
    return requests.post(f"{gw.url}{route}", timeout=30, **kwargs)


def direct(ts: TorchServe, model: str = MODEL_NAME, **kwargs) -> requests.Response:
    return requests.post(f"{ts.inference}/predictions/{model}", timeout=30, **kwargs)


FORMATS = {
    "png bytes": lambda png: {"data": png, "headers": {"Content-Type": "image/png"}},
    "octet-stream": lambda png: {"data": png, "headers": {"Content-Type": "application/octet-stream"}},
    "json data URL": lambda png: {"json": {"image": data_url(png)}},
    "json base64": lambda png: {"json": {"image": base64.b64encode(png).decode()}},
    "text data URL": lambda png: {"data": data_url(png), "headers": {"Content-Type": "text/plain"}},
    "multipart": lambda png: {"files": {"image": ("digit.png", png, "image/png")}},
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_answer_equals_torchserves_own(gateway, torchserve, fmt):
    for d in (1, 5, 8):
        kwargs = FORMATS[fmt](PNG[d])
        mine, theirs = via_gateway(gateway, **kwargs), direct(torchserve, **kwargs)
        assert mine.status_code == theirs.status_code == 200, mine.text
        assert mine.json() == theirs.json()
        assert mine.headers["Content-Type"] == "application/json"


def test_not_a_digit_is_passed_through_and_counted(gateway, torchserve):
    png = png_bytes(draw(SCRIBBLES["zigzag"], 16))
    counted = {"verdict": "not_a_digit", "model_version": MODEL_VERSION}
    before = MetricsPage(gateway.url).total("gateway_verdicts_total", **counted)
    mine, theirs = via_gateway(gateway, data=png), direct(torchserve, data=png)
    assert mine.status_code == theirs.status_code == 200, mine.text
    assert mine.json() == theirs.json() and check_body(mine.json())["verdict"] == "not_a_digit"
    assert MetricsPage(gateway.url).total("gateway_verdicts_total", **counted) == before + 1


def test_concurrent_requests_each_get_their_own_answer(gateway, torchserve):
    expected = {d: direct(torchserve, data=PNG[d]).json() for d in range(10)}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda d: (d, via_gateway(gateway, data=PNG[d]).json()), list(range(10)) * 3))
    for d, answer in answers:
        assert_same_answer(answer, expected[d])


def test_handlers_4xx_json_is_passed_through(gateway, torchserve):
    blank = png_bytes(Image.new("L", (280, 280), 255))
    mine, theirs = via_gateway(gateway, data=blank), direct(torchserve, data=blank)
    assert check_error(mine, 422, "blank_image", gateway=True) == theirs.json()


@pytest.mark.parametrize("fmt", FORMATS)
def test_number_answer_equals_torchserves_own(gateway, torchserve, fmt):
    answered = {"endpoint": "/api/number", "status": "200"}
    before = MetricsPage(gateway.url).total("gateway_requests_total", **answered)
    kwargs = FORMATS[fmt](NUMBER_PNG)
    mine, theirs = via_gateway(gateway, "/api/number", **kwargs), direct(torchserve, NUMBER_MODEL_NAME, **kwargs)
    assert mine.status_code == theirs.status_code == 200, mine.text
    assert mine.json() == theirs.json()
    assert mine.headers["Content-Type"] == "application/json" and mine.headers["Cache-Control"] == "no-store"
    body = mine.json()
    assert (body["bengali"], body["number"]) == (NUMBER, "2026"), body
    boxes = [d["box"] for d in body["digits"]]
    assert len(boxes) == len(NUMBER) and [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    assert all(0 <= x0 < x1 <= 840 and 0 <= y0 < y1 <= 280 for x0, y0, x1, y1 in boxes), boxes
    assert MetricsPage(gateway.url).total("gateway_requests_total", **answered) == before + 1


@pytest.mark.parametrize(("image", "code"), [
    (render_text("১২৩৪৫৬৭৮৯০১২৩", FONT, 100, (800, 100), 3, (1600, 200)), "too_many_digits"),
    (Image.new("L", (840, 280), 255), "blank_image"),
])
def test_number_models_4xx_json_is_passed_through(gateway, torchserve, image, code):
    png = png_bytes(image)
    mine, theirs = via_gateway(gateway, "/api/number", data=png), direct(torchserve, NUMBER_MODEL_NAME, data=png)
    assert check_error(mine, 422, code, gateway=True) == theirs.json()


def number_with_strokes() -> tuple[dict, str]:
    """A touching number composed from font strokes, as the page sends it, and its label."""
    n = font_numbers("touching", 1, lengths=(3,))[0]
    return page_json(n), n.label


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "image/png"])
def test_number_with_strokes_equals_torchserves_own(gateway, torchserve, content_type):
    """The page's JSON, under whatever type a client labels it: read as the handler reads it."""
    sent, label = number_with_strokes()
    kwargs = {"data": json.dumps(sent), "headers": {"Content-Type": content_type}}
    mine, theirs = via_gateway(gateway, "/api/number", **kwargs), direct(torchserve, NUMBER_MODEL_NAME, **kwargs)
    assert mine.status_code == theirs.status_code == 200, mine.text
    assert mine.json() == theirs.json() and mine.json()["number"] == label, (label, mine.text)


@pytest.mark.parametrize(("strokes", "status", "code"), [
    ({"x": 1}, 400, "bad_strokes"), ([[[1.0, True]]], 400, "bad_strokes"),
    ([[[0.0, 0.0]]] * 101, 413, "too_many_points"),
])
def test_bad_strokes_get_torchserves_error(gateway, torchserve, strokes, status, code):
    sent = {**number_with_strokes()[0], "strokes": strokes}
    mine, theirs = via_gateway(gateway, "/api/number", json=sent), direct(torchserve, NUMBER_MODEL_NAME, json=sent)
    assert check_error(mine, status, code, gateway=True) == theirs.json()


# Inputs of the bad-input corpus that /api/number owes the very answer /api/predict gets: refused by
# the gateway's own reading and checks before any model sees them, or by the handlers' shared ones.
NUMBER_BAD_INPUTS = ["empty body", "zero-byte PNG file", "truncated PNG", "plain text", "PDF", "malformed JSON",
                     "bad base64", "JSON without image", "data URL of a non-image type", "multipart without a file",
                     "1×1 image", "1×10,000 strip", "decompression bomb, 20,000×20,000 PNG",
                     "5 MB body (over the 4 MiB image limit)", "7 MB body (over every request limit)",
                     "PNG labelled text/plain", "all white"]


@pytest.mark.parametrize("name", NUMBER_BAD_INPUTS)
def test_number_refuses_bad_input_as_predict_does(gateway, name):
    case = BY_NAME[name]
    raw = case.request()
    status, code = case.gateway
    r = requests.request(raw.method, f"{gateway.url}/api/number", headers=raw.headers, data=raw.body, timeout=60)
    check_error(r, status, code, gateway=True)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"data": b"x" * (6 * 1024 * 1024), "headers": {"Content-Type": "image/png"}}, "image_too_large"),
    ({"data": b"x" * (4 * 1024 * 1024 + 1), "headers": {"Content-Type": "image/png"}}, "image_too_large"),
    ({"json": {"image": "data:image/png;base64," + "A" * (5_600_000 - 100)}}, "image_too_large"),
    ({"data": png_bytes(Image.new("1", (5000, 5000), 1))}, "image_too_large"),  # small file, 25 M pixels
])
def test_oversized_is_413(gateway, kwargs, code):
    check_error(via_gateway(gateway, **kwargs), 413, code, gateway=True)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"data": b"<digit/>", "headers": {"Content-Type": "application/xml"}}, "unsupported_media_type"),
    ({"data": b"{}", "headers": {"Content-Type": "application/x-ndjson"}}, "unsupported_media_type"),
    ({"data": {"image": "x"}}, "not_an_image"),  # a urlencoded form, curl's default type
    ({"data": b"definitely not an image", "headers": {"Content-Type": "image/png"}}, "not_an_image"),
    ({"data": PNG[3][:40], "headers": {"Content-Type": "image/png"}}, "not_an_image"),
    ({"json": {"image": "data:text/html;base64," + base64.b64encode(b"<p>3</p>").decode()}}, "unsupported_media_type"),
])
def test_wrong_type_is_415(gateway, kwargs, code):
    check_error(via_gateway(gateway, **kwargs), 415, code, gateway=True)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, "bad_request"),
    ({"json": {"picture": data_url(PNG[2])}}, "missing_image"),
    ({"json": {"image": "data:image/png;base64,@@@"}}, "bad_base64"),
    ({"data": b"", "headers": {"Content-Type": "image/png"}}, "empty_input"),
])
def test_malformed_is_400(gateway, kwargs, code):
    check_error(via_gateway(gateway, **kwargs), 400, code, gateway=True)


@pytest.mark.parametrize("path", ["/models", f"/predictions/{MODEL_NAME}", "/ping", "/api/models",
                                  f"/api/models/{MODEL_NAME}", "/api/predict/../../models"])
def test_nothing_but_predictions_reaches_torchserve(gateway, path):
    for method in ("GET", "POST", "PUT", "DELETE"):
        r = requests.request(method, gateway.url + path, timeout=5)
        assert r.status_code in (404, 405), (method, path, r.text)
        assert r.json()["error"] in ("not_found", "method_not_allowed")


def test_probes(gateway):
    assert requests.get(f"{gateway.url}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{gateway.url}/readyz", timeout=30).json() == {"status": "ready"}


def test_not_ready_while_the_number_model_is_missing(torchserve, tmp_path):
    """Both models must answer: a gateway whose number model TorchServe does not serve is not ready,
    and says which model and why, while its digit predictions still work."""
    with Gateway(tmp_path / "gw", torchserve.inference, settings={"BDR_NUMBER_MODEL_NAME": "no_such_model"}) as gw:
        gw.wait_ready("/healthz")
        r = requests.get(f"{gw.url}/readyz", timeout=30)
        assert r.status_code == 503 and r.json() == {"status": "not_ready", "reason": "number: status_404"}
        assert r.headers["Retry-After"]
        assert via_gateway(gw, data=PNG[4]).status_code == 200


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/predict", "/healthz", "/nowhere"])
def test_security_headers(gateway, path):
    r = requests.post(gateway.url + path, data=PNG[4], timeout=30) if path == "/api/predict" else \
        requests.get(gateway.url + path, timeout=5)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_page_loads_only_its_own_files(gateway):
    page = requests.get(gateway.url + "/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, "inline script"
    assert re.search(r"\son[a-z]+=", html) is None, "inline event handler"
    assert re.search(r"\sstyle=", html) is None, "inline style"
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', html)), "a file from another origin"
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(assets) >= 3
    for asset in [*assets, "/static/pad.js"]:
        assert requests.get(gateway.url + asset, timeout=5).status_code == 200, asset


def test_metrics_count_every_worker(gateway):
    before = MetricsPage(gateway.url)
    n = 12
    with ThreadPoolExecutor(4) as pool:  # spread over both workers and their threads
        assert all(r.ok for r in pool.map(lambda _: via_gateway(gateway, data=PNG[7]), range(n)))
    after = MetricsPage(gateway.url)
    for name, labels in (("gateway_requests_total", {"status": "200"}), ("gateway_request_duration_seconds_count", {})):
        labels["endpoint"] = "/api/predict"
        assert after.total(name, **labels) == before.total(name, **labels) + n, name
    assert after.families["gateway_request_duration_seconds"].type == "histogram"
    assert after.samples("gateway_request_duration_seconds_bucket", endpoint="/api/predict", le="0.05")


def test_torchserve_down_then_back_without_restarting_the_gateway(own_torchserve, own_gateway):
    ts, gw = own_torchserve, own_gateway
    pid = gw.process.pid
    assert via_gateway(gw, data=PNG[6]).json() == direct(ts, data=PNG[6]).json()

    ts.stop()
    r = via_gateway(gw, data=PNG[6])
    body = check_error(r, 503, "model_unavailable", gateway=True)
    assert body["reason"] == "connect" and int(r.headers["Retry-After"]) > 0
    ready = requests.get(f"{gw.url}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["status"] == "not_ready" and "Retry-After" in ready.headers
    assert requests.get(f"{gw.url}/healthz", timeout=5).status_code == 200
    assert MetricsPage(gw.url).total("gateway_upstream_errors_total", reason="connect") >= 2
    assert MetricsPage(gw.url).families["gateway_upstream_errors"].type == "counter"

    ts.start()
    ts.wait_ready()
    gw.wait_ready("/readyz", timeout=30)
    assert via_gateway(gw, data=PNG[6]).json() == direct(ts, data=PNG[6]).json()
    assert gw.process.pid == pid and gw.alive()


def test_slow_torchserve_is_503(make_torchserve, tmp_path):
    """A TorchServe that holds every request for its 2 s batch delay, behind a gateway that waits 0.3 s."""
    slow = make_torchserve(batchSize=8, maxBatchDelay=2000)
    with Gateway(tmp_path / "gateway", slow.inference, settings={"BDR_READ_TIMEOUT": "0.3"}) as gw:
        r = via_gateway(gw, data=PNG[0])
        assert check_error(r, 503, "model_unavailable", gateway=True)["reason"] == "read_timeout"
        assert "Retry-After" in r.headers
        assert requests.get(f"{gw.url}/readyz", timeout=10).json() == {"status": "not_ready", "reason": "read_timeout"}
        assert MetricsPage(gw.url).total("gateway_upstream_errors_total", reason="read_timeout") >= 2

