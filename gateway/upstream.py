"""TorchServe's inference API as seen from the gateway: one pooled session per app, connect and
read timeouts, and every way of failing turned into `Unavailable(reason)`."""

from __future__ import annotations

import io
from dataclasses import dataclass

import requests
from flask import Flask, current_app
from PIL import Image, ImageDraw
from requests.adapters import HTTPAdapter

from gateway.metrics import Metrics


class Unavailable(Exception):
    """TorchServe did not answer usefully; `reason` is the metrics label."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Answer:
    status: int
    body: dict


def probe_image() -> bytes:
    """A bold vertical stroke: any digit will do, what matters is that the model answers."""
    image = Image.new("L", (28, 28), 255)
    ImageDraw.Draw(image).line([(14, 4), (14, 24)], fill=0, width=4)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


class TorchServeClient:
    def __init__(self, url: str, model: str, connect_timeout: float, read_timeout: float, pool_size: int,
                 metrics: Metrics):
        self.predictions = f"{url.rstrip('/')}/predictions/{model}"
        self.timeout = (connect_timeout, read_timeout)
        self.metrics = metrics
        self.probe = probe_image()
        self.session = requests.Session()
        # Loopback only: a proxy from HTTP_PROXY & co. must never sit between us and TorchServe.
        self.session.trust_env = False
        # gunicorn's threads share the session; the pool keeps one connection per thread alive.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def predict(self, image: bytes) -> Answer:
        """TorchServe's answer to one image: 200 with the prediction or the handler's own 4xx JSON.
        Anything else (down, slow, no worker, not JSON) raises Unavailable."""
        try:
            r = self.session.post(self.predictions, data=image, timeout=self.timeout,
                                  headers={"Content-Type": "application/octet-stream"})
        except requests.ConnectTimeout:  # before ConnectionError, of which it is a subclass
            raise self.fail("connect_timeout") from None
        except requests.ReadTimeout:
            raise self.fail("read_timeout") from None
        except requests.ConnectionError:
            raise self.fail("connect") from None
        except requests.RequestException:
            raise self.fail("request") from None
        # 404 means the model is not registered (yet); 5xx means no worker could answer.
        if r.status_code == 404 or r.status_code >= 500:
            raise self.fail(f"status_{r.status_code}")
        try:
            body = r.json()
        except ValueError:
            raise self.fail("bad_response") from None
        if not isinstance(body, dict) or (r.ok and "digit" not in body):
            raise self.fail("bad_response")
        return Answer(r.status_code, body)

    def ready(self) -> str | None:
        """None when the model answers a prediction, else why not. TorchServe's /ping says
        Healthy while its workers are still starting, so only a real prediction tells."""
        try:
            answer = self.predict(self.probe)
        except Unavailable as err:
            return err.reason
        return None if answer.status == 200 else f"status_{answer.status}"

    def fail(self, reason: str) -> Unavailable:
        self.metrics.upstream_errors.labels(reason).inc()
        return Unavailable(reason)


def init_app(app: Flask) -> None:
    c = app.config
    app.extensions["torchserve"] = TorchServeClient(
        c["TORCHSERVE_URL"], c["MODEL_NAME"], float(c["CONNECT_TIMEOUT"]), float(c["READ_TIMEOUT"]),
        int(c["POOL_SIZE"]), app.extensions["metrics"])


def client() -> TorchServeClient:
    return current_app.extensions["torchserve"]
