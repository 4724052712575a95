"""The model served by a real TorchServe process: formats, per-request errors inside a batch,
scaling through the management API, and metrics."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import ImageOps

from bengali_digit.catalog import MODEL_NAME, MODEL_VERSION, NUMBER_MODEL_NAME
from service.processes import free_port, wait_until
from service.torchserve import API_KEYS, TorchServe
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit
from synthetic.strokes import SCRIBBLES, draw
from tests.answers import assert_same_answer, check_body, check_error
from tests.metrics_page import MetricsPage

FONT = bengali_fonts()[-1]


def predict(server: TorchServe, **kwargs) -> requests.Response:
    return requests.post(f"{server.inference}/predictions/{MODEL_NAME}", timeout=30, **kwargs)


def check_answer(r: requests.Response, digit: int | None = None) -> dict:
    """A 200 JSON answer that reads `digit` (if given) as a digit."""
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = check_body(r.json())
    if digit is not None:
        assert (body["verdict"], body["digit"]) == ("digit", digit), body
    return body


def test_png_jpeg_dataurl_json_and_multipart_both_polarities(torchserve):
    digit = 3
    image = render_digit(digit, FONT, 150, (130, 150), 4)
    for im in (image, ImageOps.invert(image)):
        png = png_bytes(im)
        data_url = "data:image/png;base64," + base64.b64encode(png).decode()
        check_answer(predict(torchserve, data=png, headers={"Content-Type": "image/png"}), digit)
        check_answer(predict(torchserve, data=png_bytes(im.convert("RGB"), "JPEG")), digit)
        check_answer(predict(torchserve, data=data_url, headers={"Content-Type": "text/plain"}), digit)
        check_answer(predict(torchserve, json={"image": data_url}), digit)
        check_answer(predict(torchserve, files={"image": ("d.png", png, "image/png")}), digit)


def test_font_digits_come_back_right(torchserve):
    """Each digit in several fonts; at least 9 of the 10 classes must be read right in most fonts."""
    fonts = bengali_fonts()
    right_per_class = [0] * 10
    for d in range(10):
        for font in fonts:
            body = check_answer(predict(torchserve, data=png_bytes(render_digit(d, font, 160, (140, 140), 2))))
            right_per_class[d] += body["digit"] == d
    classes_right = sum(r * 2 > len(fonts) for r in right_per_class)
    print(f"font digits right per class (of {len(fonts)} fonts): {right_per_class}")
    assert classes_right >= 9


def test_same_input_same_answer_alone_and_in_a_batch(torchserve):
    png = png_bytes(render_digit(6, FONT))
    alone = check_answer(predict(torchserve, data=png))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: check_answer(predict(torchserve, data=png)), range(16)))
    for a in answers:
        assert_same_answer(a, alone)


@pytest.fixture(scope="module")
def batching_server(model_store, tmp_path_factory):
    """One worker and a long batch delay, so that concurrent requests surely share batches."""
    server = TorchServe(tmp_path_factory.mktemp("batching"), model_store=model_store,
                        ports={key: free_port() for key in API_KEYS},
                        model_overrides={"minWorkers": 1, "maxWorkers": 1, "batchSize": 8, "maxBatchDelay": 300})
    with server:
        yield server


def test_bad_requests_in_a_batch_get_their_own_errors(batching_server):
    good = [(d, png_bytes(render_digit(d, FONT, 150, (140, 140), 3))) for d in (0, 2, 4, 7)]
    bad = [
        (b"definitely not an image", 415, "not_an_image"),
        (png_bytes(render_digit(1, FONT))[:40], 415, "not_an_image"),
        (png_bytes(ImageOps.invert(render_digit(1, FONT)).point(lambda _: 255)), 422, "blank_image"),
        (json.dumps({"picture": "x"}).encode(), 400, "missing_image"),
    ]
    payloads = [("good", d, body) for d, body in good] + [("bad", (status, code), body) for body, status, code in bad]
    barrier = threading.Barrier(len(payloads))

    def send(item):
        barrier.wait(timeout=10)
        return item, predict(batching_server, data=item[2], headers={"Content-Type": "application/octet-stream"})

    with ThreadPoolExecutor(len(payloads)) as pool:
        results = list(pool.map(send, payloads))
    batch_sizes = []
    for (kind, expected, _), r in results:
        if kind == "good":
            check_answer(r, expected)
        else:
            check_error(r, *expected)
        batch_sizes.append(int(r.headers["X-Batch-Size"]))
    assert max(batch_sizes) >= 4, batch_sizes
    describe = requests.get(f"{batching_server.management}/models/{MODEL_NAME}", timeout=5).json()[0]
    assert [w["status"] for w in describe["workers"]] == ["READY"]
    check_answer(predict(batching_server, data=good[0][1]), 0)


def test_scale_workers_through_the_management_api(torchserve):
    url = f"{torchserve.management}/models/{MODEL_NAME}"
    original = len(requests.get(url, timeout=5).json()[0]["workers"])
    try:
        for n in (3, 1):
            r = requests.put(url, params={"min_worker": n, "max_worker": n, "synchronous": "true"}, timeout=120)
            assert r.status_code == 200, r.text
            workers = requests.get(url, timeout=5).json()[0]["workers"]
            assert [w["status"] for w in workers] == ["READY"] * n
            check_answer(predict(torchserve, data=png_bytes(render_digit(9, FONT))))
    finally:
        requests.put(url, params={"min_worker": original, "max_worker": max(original, 4), "synchronous": "true"},
                     timeout=120)


def test_metrics_carry_torchserve_and_our_counters_and_grow(torchserve):
    check_answer(predict(torchserve, data=png_bytes(render_digit(5, FONT))))
    before = MetricsPage(torchserve.metrics)
    for _ in range(3):
        predict(torchserve, data=png_bytes(render_digit(5, FONT)))
        predict(torchserve, data=b"not an image")
    after = MetricsPage(torchserve.metrics)
    requests_total = {"model_name": MODEL_NAME}
    assert (after.total("ts_inference_requests_total", **requests_total)
            >= before.total("ts_inference_requests_total", **requests_total) + 6)
    for name, labels in (("DigitPredictions", {}), ("RejectedInputs", {"Reason": "not_an_image"})):
        ours = {"ModelName": MODEL_NAME, "ModelVersion": MODEL_VERSION, **labels}  # counted per release
        assert after.total(name, **ours) >= before.total(name, **ours) + 3
    for gauge in ("PreprocessTime", "InferenceTime", "ts_queue_latency_microseconds"):
        assert after.samples(gauge), gauge


@pytest.mark.parametrize("name", ["hatching", "star"])
def test_a_scribble_is_answered_not_a_digit_and_counted(torchserve, name):
    """HTTP 200, verdict not_a_digit, no digit, the best guess and its calibrated confidence; counted in
    NotADigit, not in DigitPredictions."""
    def scrape(metric: str) -> float:
        return MetricsPage(torchserve.metrics).total(metric, ModelName=MODEL_NAME)

    before = scrape("NotADigit"), scrape("DigitPredictions")
    body = check_answer(predict(torchserve, data=png_bytes(draw(SCRIBBLES[name], 14))))
    assert body["verdict"] == "not_a_digit" and 0 <= body["best_guess"] <= 9, body
    # the frontend takes the worker's metrics from its log stream, a moment after the answer
    wait_until(lambda: scrape("NotADigit") >= before[0] + 1, 10, "NotADigit counted", alive=torchserve.alive)
    assert (scrape("NotADigit"), scrape("DigitPredictions")) == (before[0] + 1, before[1])


def test_ping_and_api_description(torchserve):
    assert requests.get(f"{torchserve.inference}/ping", timeout=5).json()["status"] == "Healthy"
    models = requests.get(f"{torchserve.management}/models", timeout=5).json()["models"]
    assert sorted(m["modelName"] for m in models) == [MODEL_NAME, NUMBER_MODEL_NAME]
