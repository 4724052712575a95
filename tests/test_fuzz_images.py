"""Property-based tests of reading images: whatever bytes, arrays or Pillow images come in,
preprocessing answers a well-formed network input or its own PreprocessError (a known code, a
message), never any other exception, and the gateway's header check passes an image on or refuses
it its own way. A stray exception in the handler would fail every request of its batch with a 503;
these find such inputs before users do."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from bengali_digit.limits import PreprocessError
from bengali_digit.preprocess import decode_image, prepare, prepare_bytes
from gateway.api import check_image
from synthetic.bad_inputs import digit_image, encoded, exif_rotated_jpeg
from tests.fuzzing import FUZZ, outcome

# Corrupt and huge files make Pillow warn as it reads them: expected here, and not what is checked.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]


def small_digit() -> Image.Image:
    return digit_image().resize((56, 56))


# Seeds for mutation: one small digit in every format Pillow writes, so that flipped and cut bytes
# reach each decoder's inner paths rather than failing at the first magic number.
SEEDS = {
    "PNG": encoded(small_digit(), "PNG"),
    "PNG RGBA": encoded(small_digit().convert("RGBA"), "PNG"),
    "PNG 16-bit": encoded(Image.fromarray(np.asarray(small_digit(), np.uint16) * 257), "PNG"),
    "JPEG": encoded(small_digit().convert("RGB"), "JPEG"),
    "JPEG progressive": encoded(small_digit(), "JPEG", progressive=True),
    "GIF": encoded(small_digit().convert("P"), "GIF"),
    "BMP": encoded(small_digit(), "BMP"),
    "WebP": encoded(small_digit(), "WEBP"),
    "TIFF": encoded(small_digit(), "TIFF"),
    "TIFF float": encoded(Image.fromarray(np.asarray(small_digit(), np.float32)), "TIFF"),  # 0-255, as Pillow reads F
    "TIFF CIELAB": encoded(small_digit().convert("RGB").convert("LAB"), "TIFF"),
    "ICO": encoded(small_digit(), "ICO"),
    "PPM": encoded(small_digit(), "PPM"),
    "TGA": encoded(small_digit(), "TGA"),
}


@pytest.mark.parametrize("fmt", SEEDS)
def test_every_seed_format_reads(fmt):
    assert outcome(prepare_bytes, SEEDS[fmt]) == "ok"


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data):
    outcome(prepare_bytes, data)


@st.composite
def mutated_images(draw) -> bytes:
    """A seed image with some bytes overwritten, some inserted, and maybe its tail cut off."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=16))
    if draw(st.booleans()):
        del data[draw(st.integers(1, len(data))):]
    return bytes(data)


@FUZZ
@given(mutated_images())
def test_mutated_images(data):
    outcome(prepare_bytes, data)


def header_outcome(data: bytes) -> str:
    """The gateway reads an image's header before forwarding it: passed on, or refused its own way."""
    try:
        check_image(data)
    except PreprocessError as err:
        assert err.code in ("not_an_image", "image_too_large")
        return err.code
    return "ok"


@FUZZ
@given(st.one_of(mutated_images(), st.binary(max_size=512)))
def test_gateway_header_check(data):
    header_outcome(data)


@st.composite
def crafted_pngs(draw) -> bytes:
    """PNGs with a valid structure and checksums but any header values: size, bit depth, colour type,
    interlacing, with a small random (or no) compressed body. The size check must come first."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    side = st.one_of(st.integers(0, 64), st.integers(0, 2**31 - 1))
    ihdr = struct.pack(">IIBBBBB", draw(side), draw(side), draw(st.sampled_from([1, 2, 4, 8, 16, 3, 0])),
                       draw(st.sampled_from([0, 2, 3, 4, 6, 1, 7])), 0, 0, draw(st.integers(0, 2)))
    body = zlib.compress(draw(st.binary(max_size=512)))
    chunks = [chunk(b"IHDR", ihdr)]
    if draw(st.booleans()):
        chunks.append(chunk(b"PLTE", draw(st.binary(min_size=3, max_size=48))))
    chunks += [chunk(b"IDAT", body), chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


@FUZZ
@given(crafted_pngs())
def test_crafted_png_headers(data):
    outcome(prepare_bytes, data)
    header_outcome(data)


DTYPES = st.sampled_from([np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64,
                          np.float16, np.float32, np.float64])


@FUZZ
@given(hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)))
def test_arbitrary_arrays(array):
    """Any shape and numeric dtype, NaN and infinities included."""
    outcome(prepare, array)


@FUZZ
@given(hnp.arrays(st.sampled_from([np.uint8, np.float32]), st.tuples(st.integers(2, 60), st.integers(2, 60),
                                                                       st.sampled_from([1, 3, 4]))))
def test_arbitrary_colour_arrays(array):
    outcome(prepare, array)


def test_other_array_kinds_are_refused():
    for array in (np.array([["a", "b"], ["c", "d"]]), np.zeros((9, 9), complex), np.array([[None, 1], [2, 3]]),
                  np.zeros((0, 5)), np.zeros((5, 5, 2))):
        with pytest.raises(PreprocessError) as err:
            prepare(array)
        assert err.value.code == "bad_shape"


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV",
                                  "I", "I;16", "I;16B", "I;16L", "F"])
def test_every_pillow_mode(mode):
    """Images made in memory in every mode Pillow has, as a caller of `prepare` might pass them."""
    base = small_digit()
    try:
        image = base.convert(mode)
    except ValueError:  # no direct conversion: build it from an array or a merge
        image = Image.new(mode, base.size)
    assert outcome(prepare, image) in ("ok", "blank_image")


def test_exif_orientation_is_honoured():
    """The corpus's EXIF-rotated JPEG reads upright; without its tag it would read lying down."""
    upright = prepare(digit_image())
    rotated = prepare(decode_image(exif_rotated_jpeg()))
    lying = prepare(Image.open(io.BytesIO(exif_rotated_jpeg())).convert("L"))  # no exif_transpose
    assert np.abs(rotated - upright).mean() < 0.03
    assert np.abs(lying - upright).mean() > 0.1
