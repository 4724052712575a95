"""Every accepted request form yields the image's bytes; anything else is the module's own error."""

from __future__ import annotations

import base64
import json

import pytest

from bengali_digit.limits import MAX_IMAGE_BYTES, PreprocessError
from bengali_digit.payload import image_bytes, request_body
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit

PNG = png_bytes(render_digit(1, bengali_fonts()[0]))
B64 = base64.b64encode(PNG).decode()
DATA_URL = "data:image/png;base64," + B64


@pytest.mark.parametrize("body", [
    PNG, bytearray(PNG), DATA_URL, B64, {"image": DATA_URL}, {"image": B64},
    json.dumps({"image": DATA_URL}), json.dumps({"image": DATA_URL}).encode(), DATA_URL.encode(),
    "  " + DATA_URL + "\n",
])
def test_accepted_forms(body):
    assert image_bytes(body) == PNG


def test_multipart_field_of_any_name():
    assert request_body({"drawing": PNG}) == PNG
    assert request_body({"data": PNG, "other": b"x"}) == PNG


@pytest.mark.parametrize(("body", "code", "status"), [
    ({}, "missing_image", 400),
    ({"image": 12}, "bad_request", 400),
    ("data:text/plain;base64,aGVsbG8=", "unsupported_media_type", 415),
    ("data:image/png,rawtext", "bad_base64", 400),
    ("not base64 at all!", "bad_base64", 400),
    ("{broken json", "bad_request", 400),
    ("[1, 2]", "bad_base64", 400),
    ([1, 2], "bad_request", 400),
    ("", "empty_input", 400),
    (b"", "empty_input", 400),
    (b"x" * (MAX_IMAGE_BYTES + 1), "image_too_large", 413),
])
def test_refused_forms(body, code, status):
    with pytest.raises(PreprocessError) as err:
        image_bytes(body)
    assert (err.value.code, err.value.status) == (code, status)


def test_no_payload_at_all():
    with pytest.raises(PreprocessError) as err:
        request_body({})
    assert err.value.code == "empty_input"
