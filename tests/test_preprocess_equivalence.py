"""The fast preprocessing against the slow one: what the network sees must stay what training saw.

`prepare` takes shortcuts for 8-bit images (canvases, the training sets): PNGs decoded by libdeflate
and libspng (bengali_digit/png.py), and the ink map worked out once per grey level instead of once per
pixel (`preprocess.normalize_levels`). The reference is the plain path through the public steps at
full resolution: Pillow's decoding, then every pixel in float32 through `to_gray`, `ink_map` and
`normalize_digit`. The tolerance is zero: the shortcuts do the same float32 operations on the same
values, only fewer times, so equal inputs must give equal bits, and any difference is a bug rather
than rounding. The drawings are made here: strokes traced from a Bengali font, drawn with a thin and
a thick round pen on 280 and 560 px canvases as the page sends them (anti-aliased, RGBA PNG), in
other colour modes and polarities, and pieces of numbers as the number reader would cut them.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from bengali_digit import network
from bengali_digit.catalog import WEIGHTS
from bengali_digit.limits import PreprocessError
from bengali_digit.preprocess import decode_pixels, ink_map, normalize_digit, prepare, prepare_bytes, to_gray
from synthetic.digit_images import CANVAS, bengali_fonts, png_bytes, render_text
from synthetic.strokes import draw, font_strokes

SUPERSAMPLE = 2  # PIL's pen is not anti-aliased, a browser's is: draw large, then shrink


def reference(image: Image.Image | np.ndarray) -> np.ndarray:
    """What `prepare` must give: every pixel through the public float steps."""
    return normalize_digit(ink_map(to_gray(image)))


def pillow_decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return ImageOps.exif_transpose(image)


def canvas(strokes: list, pen: float, side: int) -> Image.Image:
    """Strokes in 280 px canvas coordinates, drawn as the page draws them on a `side` px canvas."""
    scale = side * SUPERSAMPLE / CANVAS
    big = draw([[(x * scale, y * scale) for x, y in s] for s in strokes], pen * scale, side * SUPERSAMPLE)
    return big.resize((side, side), Image.Resampling.LANCZOS)


def drawings() -> list[tuple[str, Image.Image]]:
    font = bengali_fonts()[0]
    out = []
    for digit in range(10):
        strokes = font_strokes(digit, font)
        for side in (280, 560):
            for pen in (6, 22):  # thinner and thicker than the page's 10-22 px
                out.append((f"{digit} at {side} px, pen {pen}", canvas(strokes, pen, side)))
    number = render_text("১২৩৪৫", font, 120, (300, 100), 2, (600, 200))
    start, _, end, _ = ImageOps.invert(number).getbbox()
    for left in range(start, end - 40, 50):  # pieces of a number: whole digits, halves, two halves
        out.append((f"number piece at {left}", number.crop((left, 0, left + 130, 200))))
    return out


DRAWINGS = drawings()


@pytest.mark.parametrize("mode", ["RGBA", "L", "RGB"])
def test_canvas_pngs_prepare_as_the_reference(mode):
    """Each drawing sent as a PNG: the fast decoding and preparing against Pillow and the float path."""
    for name, image in DRAWINGS:
        data = png_bytes(image.convert(mode))
        assert np.array_equal(prepare_bytes(data), reference(pillow_decoded(data))), name


def test_images_arrays_and_polarities_prepare_as_the_reference():
    for name, image in DRAWINGS:
        coloured = Image.merge("RGB", [image, image.point(lambda v: v // 2 + 100), image])  # ink in a colour
        for form in (image, ImageOps.invert(image), np.asarray(image), np.asarray(image.convert("RGBA")), coloured):
            assert np.array_equal(prepare(form), reference(form)), name


def test_transparent_canvases_prepare_as_the_reference():
    """Ink on a transparent background: not a fast path, but it must still agree with itself."""
    for name, image in DRAWINGS[::7]:
        rgba = Image.new("RGBA", image.size, (30, 90, 200, 0))
        rgba.putalpha(ImageOps.invert(image))
        data = png_bytes(rgba)
        assert np.array_equal(prepare_bytes(data), reference(pillow_decoded(data))), name


def refusal(run, array: np.ndarray) -> str:
    try:
        run(array)
    except PreprocessError as err:
        return err.code
    return "ok"


def test_refusals_are_the_same():
    rng = np.random.default_rng(0)
    for array in (rng.integers(0, 256, (280, 280), dtype=np.uint8),  # noise
                  np.where(rng.random((280, 280)) < 0.1, 0, 255).astype(np.uint8),  # salt and pepper
                  np.full((280, 280), 255, np.uint8), np.full((280, 280), 40, np.uint8)):  # blank, dark
        array[5, 5] = 0  # a speck on the blank ones
        assert refusal(prepare, array) == refusal(reference, array) != "ok"


def test_the_network_reads_every_drawing_alike():
    model = network.load(WEIGHTS)
    pngs = [png_bytes(image.convert("RGBA")) for _, image in DRAWINGS]
    fast = np.stack([prepare(decode_pixels(data)) for data in pngs])
    slow = np.stack([reference(pillow_decoded(data)) for data in pngs])
    with torch.inference_mode():
        logits = model(torch.from_numpy(np.concatenate([fast, slow]))[:, None])
    assert torch.equal(logits[: len(pngs)].argmax(1), logits[len(pngs) :].argmax(1))
    assert (logits[: len(pngs)] - logits[len(pngs) :]).abs().max() == 0
