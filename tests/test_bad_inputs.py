"""The bad-input corpus (synthetic/bad_inputs.py) sent to a real TorchServe and through a real gateway:
each kind gets its stated answer, a JSON error that names the problem or a right prediction, with no
stack trace or server path in it; and afterwards the same workers are alive and a good request works."""

from __future__ import annotations

import psutil
import pytest
import requests

from bengali_digit.catalog import MODEL_NAME
from bengali_digit.limits import FEEDBACK_STATUS_BY_CODE, STATUS_BY_CODE
from service.gateway import Gateway
from service.processes import wait_until
from service.torchserve import TorchServe
from synthetic.bad_inputs import BY_NAME, CASES, LEAK, Case, Raw, good_png
from tests.answers import check_body

# What a response must never show: a Python or Java stack trace, a source file, a server path.


def send(url: str, raw: Raw) -> requests.Response:
    return requests.request(raw.method, url, headers=raw.headers, data=raw.body, timeout=60)


def check_answer(r: requests.Response, expected: tuple[int, str | None], digit: int | None) -> None:
    status, code = expected
    assert r.status_code == status, r.text[:300]
    assert not LEAK.search(r.text), r.text[:300]
    if code == "":  # TorchServe's frontend refusing an oversized body before any handler sees it
        assert r.content == b""
        return
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    if code is None:
        check_body(body, "digit")
        assert body["digit"] == digit, body
    else:
        assert body["error"] == code, body
        assert isinstance(body["message"], str) and body["message"], body


def worker_pids(ts: TorchServe) -> dict[int, str]:
    """TorchServe's workers by PID, with their status."""
    describe = requests.get(f"{ts.management}/models/{MODEL_NAME}", timeout=10).json()[0]
    return {w["pid"]: w["status"] for w in describe["workers"]}


def all_workers_ready(ts: TorchServe) -> dict[int, str]:
    """The workers once every one is READY: TorchServe counts as ready when its first worker is,
    and lists the others as UNLOADING while they are still loading."""
    wait_until(lambda: set(worker_pids(ts).values()) == {"READY"}, 60, "every TorchServe worker")
    return worker_pids(ts)


def gunicorn_pids(gw: Gateway) -> set[int]:
    return {p.pid for p in psutil.Process(gw.process.pid).children()}


def check_still_serving(url: str) -> None:
    r = requests.post(url, data=good_png(), headers={"Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 200 and r.json()["digit"] == 3, r.text


def test_the_corpus_has_every_kind_of_refusal():
    """Every refusal code a single digit can earn is owed to some case, both at TorchServe and at the
    gateway (too_many_digits belongs to numbers: tests/test_number.py; corrections' own codes to
    tests/test_feedback.py), and the names are unique."""
    digit_codes = set(STATUS_BY_CODE) - {"too_many_digits"} - set(FEEDBACK_STATUS_BY_CODE)
    assert digit_codes <= {c.torchserve[1] for c in CASES}
    assert digit_codes <= {c.gateway[1] for c in CASES}
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_torchserve_answers(torchserve, case: Case):
    before = all_workers_ready(torchserve)
    url = f"{torchserve.inference}/predictions/{MODEL_NAME}"
    check_answer(send(url, case.request()), case.torchserve, case.digit)
    assert worker_pids(torchserve) == before, "a worker died or restarted"
    check_still_serving(url)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gateway_answers(gateway, torchserve, case: Case):
    ts_before, gw_before = all_workers_ready(torchserve), gunicorn_pids(gateway)
    url = f"{gateway.url}/api/predict"
    r = send(url, case.request())
    check_answer(r, case.gateway, case.digit)
    if case.request().method == "POST":  # a 405 is the router's, before the API's no-store hook
        assert r.headers["Cache-Control"] == "no-store"
    assert worker_pids(torchserve) == ts_before, "a TorchServe worker died or restarted"
    assert gunicorn_pids(gateway) == gw_before, "a gunicorn worker died or restarted"
    check_still_serving(url)


def test_refused_large_body_announces_the_close(gateway):
    """gunicorn closes a connection whose unread body is over 64 KiB; its answer must say so, or a
    client's next request on that connection is dropped (gateway/gunicorn.conf.py, pre_request)."""
    url = f"{gateway.url}/api/predict"
    big = send(url, BY_NAME["7 MB body (over every request limit)"].request())
    assert big.status_code == 413 and big.headers["Connection"].lower() == "close"
    small = requests.post(url, data=good_png(), headers={"Content-Type": "image/png"}, timeout=30)
    assert small.status_code == 200 and small.headers["Connection"].lower() == "keep-alive"
