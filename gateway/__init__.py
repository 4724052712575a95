"""The gateway: the drawing page and a thin JSON API in front of TorchServe's inference API.

    gunicorn -c gateway/gunicorn.conf.py --bind 127.0.0.1:8000 "gateway:create_app()"

Settings come from `BDR_*` environment variables (BDR_TORCHSERVE_URL=http://127.0.0.1:8080,
BDR_READ_TIMEOUT=5, ...: the keys of DEFAULTS without the prefix, values parsed as JSON), then from
the mapping given to `create_app`. Everything a request needs hangs off the app; nothing is global.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any

from flask import Flask, Request
from werkzeug.middleware.proxy_fix import ProxyFix

from bengali_digit import catalog
from bengali_digit.limits import MAX_IMAGE_BYTES

DEFAULTS: dict[str, Any] = {
    "TORCHSERVE_URL": "http://127.0.0.1:8080",  # TorchServe's inference API, never its management API
    "MODEL_NAME": catalog.MODEL_NAME,
    "NUMBER_MODEL_NAME": catalog.NUMBER_MODEL_NAME,  # POST /api/number
    "CONNECT_TIMEOUT": 1.0,  # seconds; TorchServe is on the same host, so a slow connect means it is down
    "READ_TIMEOUT": 5.0,  # seconds; a model that answers in milliseconds and takes this long is overloaded
    "RETRY_AFTER": 5,  # seconds, sent with every 503
    "POOL_SIZE": 16,  # pooled connections to TorchServe per worker process (>= gunicorn threads)
    # A data URL carries the handler's 4 MiB image limit as base64 (4/3 larger) plus a little JSON;
    # anything longer is refused with 413 before it is read, let alone forwarded.
    "MAX_CONTENT_LENGTH": MAX_IMAGE_BYTES * 4 // 3 + 4096,
    # Corrections (POST /api/feedback, gateway/feedback.py). The data folder holds the SQLite file
    # and the generated salt; FEEDBACK_SALT set (the same on every host) makes the file unneeded.
    "DATABASE_URL": None,  # SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host/db; None: SQLite in FEEDBACK_DIR
    "FEEDBACK_DIR": None,  # None: data/ in the repository
    "FEEDBACK_SALT": None,  # HMAC key of the client hashes; None: made once and kept in FEEDBACK_DIR
    "FEEDBACK_RATE_LIMIT": 60,  # corrections a client may send a minute, counted per worker process; 0: no limit
    # Proxies in front that append the client to X-Forwarded-For (an Ingress: 1). 0 trusts none: the
    # client is the peer, and a client could otherwise name any address and dodge the rate limit.
    "PROXY_HOPS": 0,
}


class InMemoryRequest(Request):
    """Multipart uploads stay in memory (bounded by MAX_CONTENT_LENGTH): werkzeug would spool any
    upload over 500 kB to a temp file, and the gateway writes nothing to disk but corrections."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return io.BytesIO()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The gateway app: DEFAULTS, then BDR_* environment variables, then `config`."""
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.json.ensure_ascii = False  # "bengali": "৩" rather than "\u09e9"
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("BDR")
    if config is not None:
        app.config.from_mapping(config)

    from gateway import api, errors, feedback, health, metrics, pages, security, upstream

    if app.config["PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_HOPS"]))

    metrics.init_app(app)  # first, so that its hooks time everything the others do
    upstream.init_app(app)
    feedback.init_app(app)
    for module in (errors, security, pages, api, health):
        app.register_blueprint(module.bp)
    return app
