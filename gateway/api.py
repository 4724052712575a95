"""POST /api/predict (one digit) and POST /api/number (a number): the handler's input formats,
checked for size and type here, then forwarded to TorchServe's digit or number model as plain image
bytes (a number's with the strokes it was drawn in, when sent); its answer (or its 4xx JSON) comes
back as is."""

from __future__ import annotations

import io

from flask import Blueprint, Request, Response, jsonify, request
from PIL import Image, UnidentifiedImageError

from bengali_digit.limits import PreprocessError, check_size
from bengali_digit.payload import drawing, image_bytes
from gateway.metrics import metrics
from gateway.upstream import Answer, client

bp = Blueprint("api", __name__, url_prefix="/api")

# plus image/*: the body is the image. The form type is curl's default for --data-binary.
RAW_TYPES = ("", "application/octet-stream", "application/x-www-form-urlencoded")


@bp.post("/predict")
def predict():
    """One picture of a digit -> TorchServe's answer, unchanged: {"verdict", "digit", "bengali",
    "best_guess", "confidence", "probabilities", "model_version"}, or its 4xx JSON."""
    answer = forward("digit")
    if answer.status == 200:
        metrics().verdicts.labels(str(answer.body.get("verdict")), str(answer.body.get("model_version"))).inc()
    return jsonify(answer.body), answer.status


@bp.post("/number")
def number():
    """One picture of a number (in JSON, optionally with its "strokes") -> TorchServe's answer,
    unchanged: {"number", "bengali", "confidence", "digits": [{"verdict", "digit", "bengali",
    "best_guess", "confidence", "box"}, ...], "model_version"}, or its 4xx JSON."""
    answer = forward("number")
    return jsonify(answer.body), answer.status


def forward(kind: str) -> Answer:
    """The request's image (a number's with its strokes, when sent), read and checked as the handler
    reads it, and the answer of TorchServe's model for `kind`."""
    body = read_payload(request)
    image, strokes = drawing(body) if kind == "number" else (image_bytes(body), None)
    check_image(image)
    return client().predict(image, kind, strokes)


@bp.after_request
def no_store(response: Response) -> Response:
    """Answers, errors included, are about one drawing: no cache should keep them."""
    response.headers["Cache-Control"] = "no-store"
    return response


def read_payload(req: Request) -> object:
    """The request's payload in a form `bengali_digit.payload` reads (a JSON value, text or bytes),
    as TorchServe hands each form to the handler; PreprocessError for a type it does not take.
    Reading the body enforces MAX_CONTENT_LENGTH (413) before anything is decoded."""
    mimetype = req.mimetype
    if mimetype == "application/json":
        return json_body(req)
    if mimetype == "multipart/form-data":
        upload = next(iter(req.files.values()), None)
        if upload is None:
            raise PreprocessError("missing_image", "the form has no file field holding an image")
        return upload.read()
    if mimetype.startswith("text/"):
        try:
            return req.get_data().decode("utf-8")
        except UnicodeDecodeError:
            raise PreprocessError("bad_request", "text body is not UTF-8") from None
    if mimetype in RAW_TYPES or mimetype.startswith("image/"):
        return req.get_data()
    raise PreprocessError("unsupported_media_type",
                          f"content type {mimetype!r} is not accepted: send image bytes, JSON "
                          '{"image": "<data URL>"}, a data URL as text, or a multipart file')


def json_body(req: Request) -> object:
    """The parsed JSON body; PreprocessError when it does not parse."""
    try:
        body = req.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes; silent=True catches ValueError only
        body = None
    if body is None:
        raise PreprocessError("bad_request", "body is not valid JSON")
    return body


def check_image(data: bytes) -> None:
    """Refuse what is no image (415) or has too many pixels (413) from the header alone: the
    pixels are decoded once, by the handler."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        raise PreprocessError("image_too_large", "image has too many pixels to decode safely") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):  # what Pillow raises for junk
        raise PreprocessError("not_an_image", "data is not an image in a format we read") from None
    check_size(width, height)
