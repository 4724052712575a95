"""POST /api/feedback: a person's correction of an answer, kept for review and retraining.

    {"image": "<data URL of the drawing>", "label": 0-9, "predicted": 0-9 or null,
     "model_version": "...", "strokes": [[[x, y, t], ...], ...], "probabilities": [10 numbers]}
    -> 201 {"id": 17}

The image is checked as /api/predict checks it (size, type, pixels from the header); the other
fields by feedback.submission. Nothing of a refused correction is kept. A blueprint of its own
that shares nothing with /api/predict but the checks: a database that is down answers here (503
feedback_unavailable) and never touches a prediction."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from bengali_digit.limits import PreprocessError
from bengali_digit.payload import image_bytes
from feedback import settings
from feedback.store import Store, Unavailable
from feedback.submission import parse
from gateway.api import check_image, json_body, no_store
from gateway.errors import error
from gateway.ratelimit import SlidingWindow, retry_after

bp = Blueprint("feedback", __name__, url_prefix="/api")
bp.after_request(no_store)


class RateLimited(Exception):
    def __init__(self, wait: float):
        super().__init__(wait)
        self.wait = wait


class Feedback:
    """What the route needs, one per app: the store, the limiter and the client-hash salt, which is
    read (or made) on first use, so that a data folder that cannot be written fails the feedback
    route alone."""

    def __init__(self, app: Flask):
        c = app.config
        self.directory = settings.data_dir(c["FEEDBACK_DIR"])
        self.store = Store(settings.database_url(c["DATABASE_URL"], self.directory))
        self.limiter = SlidingWindow(int(c["FEEDBACK_RATE_LIMIT"]), 60.0) if int(c["FEEDBACK_RATE_LIMIT"]) else None
        self.configured_salt = c["FEEDBACK_SALT"]
        self._salt: bytes | None = None

    def client(self, address: str) -> str:
        if self._salt is None:
            try:
                self._salt = settings.salt(self.configured_salt, self.directory)
            except OSError as err:
                raise Unavailable(f"salt file: {err.strerror}") from None
        return settings.client_hash(self._salt, address)


def init_app(app: Flask) -> None:
    app.extensions["feedback"] = Feedback(app)
    app.register_blueprint(bp)


def feedback() -> Feedback:
    return current_app.extensions["feedback"]


@bp.post("/feedback")
def add():
    """One correction -> 201 {"id"}; 4xx JSON for a refused one, 429 past the rate limit, 503 when
    the database cannot keep it."""
    state = feedback()
    client = state.client(request.remote_addr or "")
    if state.limiter is not None and (wait := state.limiter.hit(client)) is not None:
        raise RateLimited(wait)  # before the body is read: a flood costs as little as possible
    if request.mimetype != "application/json":
        raise PreprocessError("unsupported_media_type", 'send JSON: {"image": "<data URL>", "label": 0-9, ...}')
    body = json_body(request)
    if not isinstance(body, dict):
        raise PreprocessError("bad_request", 'the body must be a JSON object with "image" and "label"')
    submission = parse(body)
    image = image_bytes(body)
    check_image(image)
    return jsonify(id=state.store.add(submission, image, client)), 201


@bp.errorhandler(RateLimited)
def rate_limited(err: RateLimited):
    limit = current_app.config["FEEDBACK_RATE_LIMIT"]
    response, status = error(429, "rate_limited", f"at most {limit} corrections a minute from one client; "
                                                  "try again in a moment")
    response.headers["Retry-After"] = retry_after(err.wait)
    return response, status


@bp.errorhandler(Unavailable)
def unavailable(err: Unavailable):
    response, status = error(503, "feedback_unavailable",
                             "Corrections cannot be kept right now; predictions still work. Try again shortly.")
    response.headers["Retry-After"] = str(current_app.config["RETRY_AFTER"])
    return response, status
