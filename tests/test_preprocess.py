"""The one preprocessing module: whatever picture of a digit comes in, the network sees the same."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from bengali_digit.limits import PreprocessError
from bengali_digit.preprocess import BOX, SIZE, decode_image, prepare, prepare_bytes
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit

FONT = bengali_fonts()[0]


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def test_output_shape_range_and_box():
    x = prepare(render_digit(3, FONT))
    assert x.shape == (SIZE, SIZE) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    rows, cols = np.flatnonzero(x.max(1) > 0.25), np.flatnonzero(x.max(0) > 0.25)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (BOX - 1, BOX, BOX + 1)


def test_both_polarities_give_the_same_input():
    dark_on_light = render_digit(5, FONT)
    light_on_dark = ImageOps.invert(dark_on_light)
    np.testing.assert_allclose(prepare(dark_on_light), prepare(light_on_dark), atol=1e-6)


@pytest.mark.parametrize(("glyph_px", "center"), [(90, (60, 60)), (240, (140, 140)), (130, (200, 190))])
def test_position_and_size_change_little(glyph_px, center):
    reference = prepare(render_digit(7, FONT, 170, (140, 140)))
    moved = prepare(render_digit(7, FONT, glyph_px, center))
    assert mean_abs(reference, moved) < 0.05


def test_colour_modes_agree():
    gray = render_digit(2, FONT)
    reference = prepare(gray)
    for mode in ("RGB", "P", "LA", "RGBA", "I;16"):
        assert mean_abs(prepare(gray.convert(mode)), reference) < 0.02, mode


@pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255), (30, 90, 200)])
def test_transparent_background_png(ink):
    """The canvas may send ink on a transparent background, whatever the ink's colour."""
    mask = ImageOps.invert(render_digit(8, FONT))  # ink 255
    rgba = Image.new("RGBA", mask.size, (*ink, 0))
    rgba.putalpha(mask)
    rgba.paste(Image.new("RGB", mask.size, ink), mask=mask)
    reference = prepare(render_digit(8, FONT))
    assert mean_abs(prepare_bytes(png_bytes(rgba)), reference) < 0.03


def test_blank_images_are_an_error_not_a_guess():
    for image in (Image.new("L", (280, 280), 255), Image.new("L", (28, 28), 0), Image.new("RGBA", (50, 50)),
                  Image.new("L", (100, 100), 128)):
        with pytest.raises(PreprocessError) as err:
            prepare(image)
        assert err.value.code == "blank_image" and err.value.status == 422


def test_a_speck_is_blank():
    image = Image.new("L", (280, 280), 255)
    image.putpixel((100, 100), 0)
    with pytest.raises(PreprocessError, match="ink"):
        prepare(image)


def test_numpy_arrays_and_pil_agree():
    image = render_digit(4, FONT)
    np.testing.assert_allclose(prepare(np.asarray(image)), prepare(image), atol=1e-6)
    np.testing.assert_allclose(prepare(np.asarray(image.convert("RGB"))), prepare(image), atol=0.02)


def test_small_thin_and_large_thick_digits_look_alike():
    """A NumtaDB-like small thin digit and an ISI-like frame-filling thick one normalise to one size."""
    small = render_digit(6, FONT, 14, (14, 14), 0, size=28)
    large = render_digit(6, FONT, 34, (14, 14), 1, size=28)
    for x in (prepare(small), prepare(large)):
        rows = np.flatnonzero(x.max(1) > 0.25)
        cols = np.flatnonzero(x.max(0) > 0.25)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= BOX - 1


@pytest.mark.parametrize(("data", "code"), [
    (b"", "empty_input"),
    (b"hello, not an image", "not_an_image"),
    (png_bytes(Image.new("L", (8, 8)))[:30], "not_an_image"),
])
def test_decode_errors(data, code):
    with pytest.raises(PreprocessError) as err:
        decode_image(data)
    assert err.value.code == code


def test_decompression_bomb_refused_from_the_header():
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, "PNG")  # a few KB that would decode to 400 megapixels
    assert len(buf.getvalue()) < 200_000
    with pytest.raises(PreprocessError) as err:
        decode_image(buf.getvalue())
    assert err.value.code == "image_too_large" and err.value.status == 413
