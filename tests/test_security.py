"""Security, against real processes: every TorchServe API listens on loopback only; the gateway
forwards predictions and nothing else, whatever the path says; and no response, however malformed
the request that caused it, shows a stack trace or a server path."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
import requests

from bengali_digit.catalog import MODEL_NAME, ROOT
from service.gateway import Gateway
from service.torchserve import TorchServe, read_properties
from synthetic.bad_inputs import LEAK, good_png

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}  # the last: Java's IPv4 on a dual-stack socket


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket of a process and its descendants."""
    root = psutil.Process(pid)
    out = set()
    for proc in [root, *root.children(recursive=True)]:
        for conn in proc.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                out.add((conn.laddr.ip, conn.laddr.port))
    return out


def test_default_config_binds_every_api_to_loopback():
    props = read_properties(ROOT / "config.properties")
    for key in ("inference_address", "management_address", "metrics_address"):
        assert props[key].startswith("http://127.0.0.1:"), (key, props[key])
    # gRPC cannot be switched off and listens on every interface unless told otherwise
    assert props["grpc_inference_address"] == props["grpc_management_address"] == "127.0.0.1"
    # `make release` registers versions over HTTP, which is safe only with management on loopback
    # (asserted above) or behind tokens; containers, whose management is reachable, keep it off
    assert props["enable_model_api"] == "true" and props["disable_token_authorization"] == "true"


def test_torchserve_and_gateway_listen_on_loopback_only(torchserve, gateway):
    """The live processes (their ports are the tests' own, their addresses the config's)."""
    ts_sockets, gw_sockets = listening(torchserve.process.pid), listening(gateway.process.pid)
    assert len(ts_sockets) >= 5, ts_sockets  # inference, management, metrics, two gRPC
    assert {ip for ip, _ in ts_sockets | gw_sockets} <= LOOPBACK, ts_sockets | gw_sockets


def other_addresses() -> list[str]:
    """This host's IPv4 addresses other than loopback."""
    return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family == socket.AF_INET and not a.address.startswith("127.")]


def test_management_and_metrics_unreachable_from_another_interface(torchserve):
    addresses = other_addresses()
    if not addresses:
        pytest.skip("this host has no network interface but loopback")
    for api in ("management", "metrics", "inference"):
        port = int(torchserve.url(api).rsplit(":", 1)[1])
        for address in addresses:
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((address, port)) != 0, f"{api} API reachable on {address}:{port}"


class Recorder(BaseHTTPRequestHandler):
    """A stand-in for TorchServe that answers predictions and writes down every request it gets."""

    seen: list[tuple[str, str]]

    def do_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append((self.command, self.path))
        ok = self.command == "POST" and self.path == f"/predictions/{MODEL_NAME}"
        answer = {"digit": 3, "bengali": "৩", "confidence": 1.0, "probabilities": [0.0] * 3 + [1.0] + [0.0] * 6}
        body = json.dumps(answer if ok else {"code": 404, "message": "recorder: not a prediction"}).encode()
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_any

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# Ways a client might try to make the gateway call another TorchServe path: dot segments plain and
# percent-encoded, encoded slashes, doubled slashes, backslashes, absolute URLs, query strings.
TRICKS = [
    "/models", f"/models/{MODEL_NAME}", "/api/models", "/api/../models", "/api/predict/../../models",
    "/api/predict/..%2f..%2fmodels", "/api/predict%2f..%2f..%2fmodels", "/api/%2e%2e/%2e%2e/models",
    "/%2e%2e/%2e%2e/models", "/api/predict/%252e%252e/models", "//models", "/api//predict/../../models",
    "/api/predict/..\\..\\models", "/api/predict;/../../models", f"/predictions/{MODEL_NAME}",
    f"/api/predictions/{MODEL_NAME}", "/api/predict/x", "/ping", "/api/ping", "/metrics/../models",
    "/api/predict?url=/models", "/api/predict?model=../models", "/api/predict#/../models",
    "http://127.0.0.1:8081/models", "/static/../../models", "/static/..%2f..%2fmodels",
    "/api/predict/%2e%2e%2f%2e%2e%2fmodels",
]


def raw_request(url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    """Send `path` byte for byte: requests would normalise it before the gateway ever saw it."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_gateway_forwards_only_predictions(recorder, tmp_path):
    """Behind the gateway sits a recorder: after every trick, the only upstream requests ever made
    are POSTs to /predictions/bengali_digit (the ones that were predictions)."""
    upstream = f"http://127.0.0.1:{recorder.server_address[1]}"
    with Gateway(tmp_path / "gateway", upstream) as gw:
        for path in TRICKS:
            for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
                status, body = raw_request(gw.url, method, path, good_png(), {"Content-Type": "image/png"})
                assert not LEAK.search(body.decode(errors="replace")), (method, path, body[:200])
                assert b"recorder" not in body, (method, path, body[:200])  # nothing upstream came back
                if method == "OPTIONS" and status == 200:  # Flask's automatic answer: the Allow header only
                    assert body == b""
                elif status == 200:  # only a genuine prediction succeeds
                    assert method == "POST" and path.split("?")[0].split("#")[0] == "/api/predict", (method, path)
                else:
                    assert status in (400, 404, 405), (method, path, status, body[:200])
        assert recorder.seen, "the predictions should have reached the recorder"
        assert set(recorder.seen) == {("POST", f"/predictions/{MODEL_NAME}")}, recorder.seen


def test_no_path_reaches_torchserve_management(gateway, torchserve):
    """The same tricks against the real stack: nothing that looks like the management API comes back."""
    management_words = (b"modelName", b"modelVersion", b"workers", b"minWorkers", b'"models"')
    for path in TRICKS:
        for method in ("GET", "POST", "PUT", "DELETE"):
            _, body = raw_request(gateway.url, method, path, good_png(), {"Content-Type": "image/png"})
            assert not any(word in body for word in management_words), (method, path, body[:200])
            assert not LEAK.search(body.decode(errors="replace")), (method, path, body[:200])


MALFORMED = [
    ("POST", "/api/predict", b"--x\r\nbroken", {"Content-Type": "multipart/form-data; boundary=x"}),
    ("POST", "/api/predict", b"abc", {"Content-Type": "multipart/form-data"}),  # no boundary
    ("POST", "/api/predict", b"\xff\xfe", {"Content-Type": "application/json; charset=utf-16"}),
    ("POST", "/api/predict", b"{}", {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
    ("POST", "/api/predict", b"x" * 10, {"Content-Type": "image/png", "Content-Length": "999999999999"}),
    ("POST", "/api/predict", b"", {"Content-Type": "image/png", "Content-Length": "-1"}),
    ("POST", "/api/predict", b"", {"Content-Type": "\x00\x01", "X-Long": "a" * 6000}),
    ("GET", "/api/predict/" + "a" * 5000, b"", {}),
    ("GET", "/%ff%fe%00", b"", {}),
    ("TRACE", "/api/predict", b"", {}),
    ("PROPFIND", "/", b"", {}),
]


@pytest.mark.parametrize(("method", "path", "body", "headers"), MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_requests_show_no_internals(gateway, method, path, body, headers):
    try:
        status, answer = raw_request(gateway.url, method, path, body, headers)
    except (http.client.HTTPException, ConnectionError):  # refusing to talk at all is fine too
        return
    assert 400 <= status < 500, (status, answer[:200])
    assert not LEAK.search(answer.decode(errors="replace")), answer[:300]
    assert requests.get(f"{gateway.url}/healthz", timeout=5).ok


def test_chunked_body_over_the_limit_is_refused(gateway):
    """Without a Content-Length the limit still holds while the body streams in."""
    def chunks() -> Iterator[bytes]:
        for _ in range(7 * 16):
            yield b"\x00" * 65536

    r = requests.post(f"{gateway.url}/api/predict", data=chunks(), headers={"Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 413 and r.json()["error"] == "image_too_large"


def test_torchserve_errors_show_no_internals(torchserve: TorchServe):
    for url, method in ((f"{torchserve.inference}/predictions/nothing", "POST"),
                        (f"{torchserve.inference}/predictions/{MODEL_NAME}/9.9", "POST"),
                        (f"{torchserve.inference}/nowhere", "GET"),
                        (f"{torchserve.management}/models/nothing", "GET"),
                        (f"{torchserve.management}/models", "POST")):
        r = requests.request(method, url, data=b"x", timeout=10)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:200])
        assert not LEAK.search(r.text), r.text[:300]
