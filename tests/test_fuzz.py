"""Property-based tests of the preprocessing and payload modules: whatever bytes, arrays or JSON
values come in, the answer is a well-formed network input or the module's own PreprocessError
(a known code, a message), never any other exception. A stray exception in the handler would fail
every request of its batch with a 503; these find such inputs before users do."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from bengali_digit.limits import STATUS_BY_CODE, PreprocessError
from bengali_digit.noise import corners, piece_sizes
from bengali_digit.payload import image_bytes, request_body
from bengali_digit.preprocess import SIZE, decode_image, prepare, prepare_bytes
from gateway.api import check_image
from synthetic.bad_inputs import digit_image, encoded
from tests.conftest import needs_shared_data

# Corrupt and huge files make Pillow warn as it reads them: expected here, and not what is checked.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]
# No example database in the tree; no deadline, because the machine is shared with training.
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(run, *args) -> str:
    """Run the module; check its answer or its refusal; return the code ("ok" for an answer)."""
    try:
        x = run(*args)
    except PreprocessError as err:
        assert err.code in STATUS_BY_CODE and err.status == STATUS_BY_CODE[err.code]
        assert isinstance(err.message, str) and err.message
        return err.code
    assert x.shape == (SIZE, SIZE) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0
    return "ok"


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


def test_json_nested_beyond_the_parser():
    for body in (b'{"image": ' * 100_000 + b"1" + b"}" * 100_000, '{"a": ' + "[" * 100_000):
        assert payload_outcome(body) == "bad_request"


def test_exif_orientation_is_honoured():
    """The corpus's EXIF-rotated JPEG reads upright; without its tag it would read lying down."""
    from synthetic.bad_inputs import exif_rotated_jpeg

    upright = prepare(digit_image())
    rotated = prepare(decode_image(exif_rotated_jpeg()))
    lying = prepare(Image.open(io.BytesIO(exif_rotated_jpeg())).convert("L"))  # no exif_transpose
    assert np.abs(rotated - upright).mean() < 0.03
    assert np.abs(lying - upright).mean() > 0.1


def flood_fill(mask: np.ndarray) -> tuple[list[int], int]:
    """The slow obvious way: piece sizes (8-connected, largest first) and holes (4-connected background
    not reaching the border), by breadth-first search."""
    h, w = mask.shape

    def regions(inside, steps):
        seen, found = np.zeros_like(inside), []
        for start in zip(*np.nonzero(inside), strict=True):
            if seen[start]:
                continue
            seen[start], queue, cells = True, [start], []
            while queue:
                y, x = queue.pop()
                cells.append((y, x))
                for dy, dx in steps:
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w and inside[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        queue.append((ny, nx))
            found.append(cells)
        return found

    eight = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    pieces = regions(mask, eight)
    gaps = regions(~mask, [(-1, 0), (1, 0), (0, -1), (0, 1)])
    holes = sum(all(0 < y < h - 1 and 0 < x < w - 1 for y, x in cells) for cells in gaps)
    return sorted((len(c) for c in pieces), reverse=True), holes


@FUZZ
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_pieces_and_holes_agree_with_a_flood_fill(mask):
    """The noise check's numpy labelling and its bit-quad count of holes, against breadth-first search."""
    sizes, holes = flood_fill(mask)
    assert piece_sizes(mask).tolist() == sizes
    convex, concave, diagonal = corners(mask)
    assert len(sizes) - (convex - concave - 2 * diagonal) // 4 == holes


def noise(kind: str, side: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform grey":
        return rng.integers(0, 256, (side, side), dtype=np.uint8)
    if kind == "uniform colour":
        return rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    if kind == "gaussian":
        return np.clip(rng.normal(128, 40, (side, side)), 0, 255).astype(np.uint8)
    density = int(kind.split()[-1]) / 100  # salt and pepper: black pixels at this density on white
    return np.where(rng.random((side, side)) < density, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("side", [64, 280, 1000])
@pytest.mark.parametrize("kind", ["uniform grey", "uniform colour", "gaussian", "salt and pepper 5",
                                  "salt and pepper 30", "salt and pepper 50", "salt and pepper 70"])
def test_random_noise_is_no_digit(kind, side):
    with pytest.raises(PreprocessError) as err:
        prepare(noise(kind, side, np.random.default_rng(side)))
    assert err.value.code == "no_digit" and err.value.status == 422


def test_no_real_digit_is_taken_for_noise():
    """The noise check refuses none of the canvas drawings and a tenth of the training digits."""
    from training import data

    needs_shared_data("bn_digits_train.npz")
    numta, isi = data.load_packed(data.DEFAULT_DATA_DIR / data.PACKED_FILE)
    with np.load(data.DEFAULT_DATA_DIR / data.CANVAS_FILE) as f:
        canvas = f["x"]
    for images in (canvas, numta.x[::10], isi.x[::10]):
        for image in images:
            assert outcome(prepare, image) == "ok"
