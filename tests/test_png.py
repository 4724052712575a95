"""bengali_digit/png.py: the fast PNG path gives Pillow's pixels, takes only the PNGs it can read
as Pillow does, and leaves every damaged one to Pillow's refusal."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bengali_digit.limits import PreprocessError
from bengali_digit.png import plain_png, stored
from bengali_digit.preprocess import decode_pixels
from synthetic.bad_inputs import digit_image, encoded, palette_png_transparent, png16
from tests.fuzzing import FUZZ


def pillow_pixels(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    image.load()
    return np.asarray(image)


def taken(data: bytes) -> np.ndarray | None:
    return plain_png(data, Image.open(io.BytesIO(data)))


def noise(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def rotated() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: turned a quarter; Pillow's decoding honours it, libspng would not
    return exif


PLAIN = {
    "canvas RGBA": encoded(digit_image().convert("RGBA"), "PNG"),
    "grey": encoded(digit_image(), "PNG"),
    "RGB": encoded(digit_image().convert("RGB"), "PNG"),
    "1×1": encoded(Image.new("RGBA", (1, 1), (1, 2, 3, 4)), "PNG"),
    "odd sides": encoded(Image.fromarray(noise((7, 3, 3))), "PNG"),
    "noise, many IDAT chunks and stored blocks": encoded(Image.fromarray(noise((600, 500, 4))), "PNG"),
    "uncompressed": encoded(digit_image().convert("RGBA"), "PNG", compress_level=0),
    "most compressed": encoded(digit_image().convert("RGB"), "PNG", compress_level=9),
}


@pytest.mark.parametrize("name", PLAIN)
def test_plain_pngs_decode_to_pillows_pixels(name):
    pixels = taken(PLAIN[name])
    assert pixels is not None, "not taken by the fast path"
    assert np.array_equal(pixels, pillow_pixels(PLAIN[name]))
    assert np.array_equal(np.asarray(decode_pixels(PLAIN[name])), pixels)


@pytest.mark.parametrize("data", [png16(), palette_png_transparent(), encoded(digit_image().convert("LA"), "PNG"),
                                  encoded(digit_image().convert("1"), "PNG"), encoded(digit_image(), "JPEG"),
                                  encoded(Image.new("RGB", (9, 9)), "PNG", transparency=(0, 0, 0)),
                                  encoded(digit_image().convert("RGB"), "PNG", exif=rotated())])
def test_other_images_are_left_to_pillow(data):
    assert taken(data) is None


def test_the_stored_copy_holds_the_same_image():
    data = PLAIN["canvas RGBA"]
    copy = stored(data)
    assert len(copy) > 10 * len(data)  # uncompressed
    assert np.array_equal(pillow_pixels(copy), pillow_pixels(data))


@st.composite
def damaged(draw) -> bytes:
    """A plain PNG with a few bytes overwritten, or its tail cut off."""
    data = bytearray(PLAIN[draw(st.sampled_from(["canvas RGBA", "grey", "odd sides"]))])
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(33, len(data) - 1))] = draw(st.integers(0, 255))  # past the header Pillow checks
    if draw(st.booleans()):
        del data[draw(st.integers(34, len(data))):]
    return bytes(data)


@FUZZ
@given(damaged())
def test_damaged_pngs_read_as_pillow_reads_them_or_are_refused(data):
    """What the fast path makes of a damaged PNG is what Pillow makes of it; what it refuses, Pillow
    decides on. The one allowed difference: Pillow may refuse what it still reads right (a broken
    checksum after the pixels), while the pixels themselves were checked by their own checksum."""
    try:
        fast = decode_pixels(data)
    except PreprocessError as err:
        assert err.code == "not_an_image"
        return
    try:
        slow = pillow_pixels(data)
    except Exception:
        return
    assert np.array_equal(np.asarray(fast), slow)
