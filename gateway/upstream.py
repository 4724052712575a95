"""TorchServe's inference API as seen from the gateway: one connection pool per app for both models
(digits and numbers), connect and read timeouts, and every way of failing turned into
`Unavailable(reason)`.

urllib3 directly rather than through requests: a forwarded prediction costs 0.3 ms of gateway CPU
instead of 0.5 ms, and on a small host that CPU is what the gateway takes from TorchServe
(docs/benchmarks.md). urllib3 never reads HTTP_PROXY & co., so no proxy can sit between us and
TorchServe."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass

import urllib3
from flask import Flask, current_app
from PIL import Image, ImageDraw
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ProtocolError, ReadTimeoutError

from bengali_digit.strokes import Strokes
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
    """`models` maps what is read ("digit", "number") to the TorchServe model that reads it; a 200
    answer of each names what it read under that key ("digit": 3, "number": "2026")."""

    def __init__(self, url: str, models: dict[str, str], connect_timeout: float, read_timeout: float,
                 pool_size: int, metrics: Metrics):
        base_path = urllib3.util.parse_url(url).path or ""
        self.predictions = {kind: f"{base_path.rstrip('/')}/predictions/{name}" for kind, name in models.items()}
        self.metrics = metrics
        self.probe = probe_image()
        # gunicorn's threads share the pool; it keeps one connection per thread alive. No retries:
        # a request TorchServe may have started is not ours to send twice.
        self.pool = urllib3.connection_from_url(
            url, maxsize=pool_size, block=False, retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))

    def predict(self, image: bytes, kind: str = "digit", strokes: Strokes | None = None) -> Answer:
        """TorchServe's answer to one image (with the strokes it was drawn in, if any) from the model
        for `kind`: 200 with the prediction or the handler's own 4xx JSON. Anything else (down, slow,
        no worker, not JSON) raises Unavailable."""
        if strokes is None:  # the plain bytes: nothing to encode or parse on either side
            body, content_type = image, "application/octet-stream"
        else:
            body = json.dumps({"image": base64.b64encode(image).decode("ascii"), "strokes": strokes})
            content_type = "application/json"
        try:
            r = self.pool.urlopen("POST", self.predictions[kind], body=body, headers={"Content-Type": content_type})
        except NewConnectionError:  # before ConnectTimeoutError, of which it is a subclass
            raise self.fail("connect") from None
        except ConnectTimeoutError:
            raise self.fail("connect_timeout") from None
        except ReadTimeoutError:
            raise self.fail("read_timeout") from None
        except ProtocolError:  # the connection was reset or closed mid-answer
            raise self.fail("connect") from None
        except HTTPError:
            raise self.fail("request") from None
        # 404 means the model is not registered (yet); 5xx means no worker could answer.
        if r.status == 404 or r.status >= 500:
            raise self.fail(f"status_{r.status}")
        try:
            body = json.loads(r.data)
        except ValueError:
            raise self.fail("bad_response") from None
        if not isinstance(body, dict) or (r.status < 400 and kind not in body):
            raise self.fail("bad_response")
        return Answer(r.status, body)

    def ready(self) -> str | None:
        """None when every model answers a prediction, else why not (the digit model's reason as
        is, the number model's after "number: "). TorchServe's /ping says Healthy while its workers
        are still starting, so only a real prediction tells."""
        for kind in self.predictions:
            try:
                answer = self.predict(self.probe, kind)
                reason = None if answer.status == 200 else f"status_{answer.status}"
            except Unavailable as err:
                reason = err.reason
            if reason is not None:
                return reason if kind == "digit" else f"{kind}: {reason}"
        return None

    def fail(self, reason: str) -> Unavailable:
        self.metrics.upstream_errors.labels(reason).inc()
        return Unavailable(reason)


def init_app(app: Flask) -> None:
    c = app.config
    app.extensions["torchserve"] = TorchServeClient(
        c["TORCHSERVE_URL"], {"digit": c["MODEL_NAME"], "number": c["NUMBER_MODEL_NAME"]},
        float(c["CONNECT_TIMEOUT"]), float(c["READ_TIMEOUT"]), int(c["POOL_SIZE"]), app.extensions["metrics"])


def client() -> TorchServeClient:
    return current_app.extensions["torchserve"]
