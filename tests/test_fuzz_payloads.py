"""Property-based tests of reading request bodies (bengali_digit.payload): whatever JSON values,
bytes, text, data URLs, strokes or TorchServe batch rows come in, the answer is image bytes (and
checked strokes) or the module's own PreprocessError (a known code, a message), never any other
exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bengali_digit.limits import STATUS_BY_CODE, PreprocessError
from bengali_digit.payload import drawing, image_bytes, request_body
from tests.fuzzing import FUZZ

# JSON-like values as TorchServe hands them to the handler after parsing a body.
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)


def payload_outcome(body) -> str:
    try:
        data = image_bytes(body)
    except PreprocessError as err:
        assert err.code in STATUS_BY_CODE and err.message
        return err.code
    assert isinstance(data, bytes) and data
    return "bytes"


@FUZZ
@given(st.one_of(JSON, st.binary(max_size=256), st.text(max_size=256),
                 st.dictionaries(st.just("image"), JSON | st.text(max_size=64), min_size=1)))
def test_arbitrary_payloads(body):
    payload_outcome(body)


@FUZZ
@given(st.text(alphabet=st.characters(), max_size=200))
def test_arbitrary_data_urls(text):
    payload_outcome("data:" + text)
    payload_outcome({"image": "data:" + text})


@FUZZ
@given(st.dictionaries(st.sampled_from(["data", "body", "image", "file", "other"]),
                       st.none() | st.binary(max_size=32) | st.text(max_size=32) | JSON, max_size=4))
def test_arbitrary_rows(row):
    """A TorchServe batch row with any of the fields a form or a body can fill."""
    try:
        payload_outcome(request_body(row))
    except PreprocessError as err:
        assert err.code == "empty_input"


@FUZZ
@given(JSON, st.dictionaries(st.just("strokes"), JSON, min_size=1))
def test_arbitrary_strokes(image, strokes):
    """A number's JSON with any "strokes": checked strokes, or the module's own refusal."""
    body = {"image": "iVBORw0KGgo=", **strokes} if image is None else {"image": image, **strokes}
    try:
        data, checked = drawing(body)
    except PreprocessError as err:
        assert err.code in STATUS_BY_CODE and err.message
        return
    assert isinstance(data, bytes) and (checked is None or checked == strokes["strokes"])


def test_json_nested_beyond_the_parser():
    for body in (b'{"image": ' * 100_000 + b"1" + b"}" * 100_000, '{"a": ' + "[" * 100_000):
        assert payload_outcome(body) == "bad_request"
