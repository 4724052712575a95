"""What a client may send for one prediction -> the image's bytes.

Accepted: raw image bytes (any content type, or one multipart field), a JSON object
`{"image": "<data URL or base64>"}` (for a number, optionally with the `"strokes"` it was drawn in),
or a data URL / base64 string as a text body.
TorchServe has already parsed JSON and decoded text bodies by the time a handler sees them, so
each form arrives here as bytes, str or dict.
"""

from __future__ import annotations

import base64
import binascii
import json

from bengali_digit.limits import MAX_IMAGE_BYTES, PreprocessError
from bengali_digit.strokes import Strokes, parse_strokes

FIELD_NAMES = ("data", "body", "image", "file")  # where TorchServe or a multipart form puts the payload


def request_body(row: dict) -> object:
    """The payload of one request of a TorchServe batch."""
    for key in FIELD_NAMES:
        if row.get(key) is not None:
            return row[key]
    for value in row.values():  # a multipart form with a field of another name
        if isinstance(value, (bytes, bytearray)):
            return value
    raise PreprocessError("empty_input", "the request carried no image data")


def drawing(body: object) -> tuple[bytes, Strokes | None]:
    """Raw image bytes and the strokes sent with them (None when none were, or the body is no JSON
    object) from any accepted form of payload; PreprocessError for anything else."""
    body = decoded(body)
    if isinstance(body, dict):
        return image_bytes(body), parse_strokes(body.get("strokes"))
    return image_bytes(body), None


def image_bytes(body: object) -> bytes:
    """Raw image bytes from any accepted form of payload; PreprocessError for anything else."""
    body = decoded(body)
    if isinstance(body, dict):
        if "image" not in body:
            raise PreprocessError("missing_image", 'JSON body needs an "image" field holding a data URL or base64')
        if not isinstance(body["image"], str):
            raise PreprocessError("bad_request", '"image" must be a string holding a data URL or base64')
        return from_text(body["image"])
    if isinstance(body, bytes):
        if not body:
            raise PreprocessError("empty_input", "the request body is empty")
        return body
    if isinstance(body, str):
        return from_text(body)
    raise PreprocessError("bad_request", 'JSON body must be an object with an "image" field')


def decoded(body: object) -> object:
    """The body as a JSON object (dict), text (str) or raw bytes: JSON and data URLs arrive as bytes
    when sent with an image or binary type, and JSON as text when sent as text."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body)
        check_size(len(body))
        if not body[:64].lstrip().startswith((b"{", b"data:")):
            return body
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise PreprocessError("bad_request", "body is neither an image nor UTF-8 text") from None
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            raise PreprocessError("bad_request", "body looks like JSON but does not parse") from None
        if not isinstance(parsed, dict):
            raise PreprocessError("bad_request", 'JSON body must be an object with an "image" field')
        return parsed
    return body


def from_text(text: str) -> bytes:
    """A data URL (`data:image/png;base64,...`) or bare base64 -> bytes."""
    text = text.strip()
    if not text:
        raise PreprocessError("empty_input", "the image string is empty")
    check_size(len(text) * 3 // 4)
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        mime = header[5:].split(";")[0].strip().lower()
        if not sep or ";base64" not in header:
            raise PreprocessError("bad_base64", "data URL must be base64-encoded: data:image/png;base64,...")
        if not mime.startswith("image/"):
            # the type is the client's text: cut short, so that the message cannot carry megabytes back
            raise PreprocessError("unsupported_media_type",
                                  f"data URL type {mime[:40] or 'missing'!r} is not an image type")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise PreprocessError("bad_base64", "text is neither a data URL nor valid base64 image data") from None
    if not data:
        raise PreprocessError("empty_input", "the image string decodes to nothing")
    return data


def check_size(n: int) -> None:
    if n > MAX_IMAGE_BYTES:
        raise PreprocessError("image_too_large", f"image data is {n} bytes; the limit is {MAX_IMAGE_BYTES}")
