"""Any picture of one digit -> the network's input, the same way for training, evaluation and serving.

The steps follow MNIST's: composite transparency, find which side is ink, crop to the ink, scale the
longest side to BOX pixels keeping the aspect, and centre by centre of mass in a SIZE×SIZE frame.
After them a small thin NumtaDB digit, a frame-filling thick ISI digit and a 280 px canvas drawing
look alike, which is the point: the network never sees where or how large a person drew.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from bengali_digit.limits import PreprocessError, check_size
from bengali_digit.noise import NOISE_LEVEL, check_solid, check_strokes
from bengali_digit.png import plain_png

SIZE = 28  # network input side
BOX = 20  # longest side of the digit inside the frame
MIN_CONTRAST = 32  # ink must differ from the background by this much (0-255) to count
INK_LEVEL = 0.25  # fraction of the strongest ink that marks the ink's bounding box
MIN_INK_PIXELS = 4


def decode_image(data: bytes) -> Image.Image:
    """Decode image bytes, refusing oversized images from their header before any pixel is decoded."""
    pixels = decode_pixels(data)
    return pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)


def decode_pixels(data: bytes) -> Image.Image | np.ndarray:
    """`decode_image`, but a plain PNG (what canvases send) comes back as its uint8 array (H, W) or
    (H, W, C), decoded by `png.plain_png`: what `prepare` reads fastest, with no Pillow image around it."""
    if not data:
        raise PreprocessError("empty_input", "the request carried no image data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            check_size(*image.size)
            pixels = plain_png(data, image)
            if pixels is not None:
                return pixels
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # an animated image is read by its first frame
            image.load()
            return ImageOps.exif_transpose(image)  # as browsers show it (phone photos lie on their side)
    except PreprocessError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PreprocessError("image_too_large", "image has too many pixels to decode safely") from None
    except Exception as exc:  # Pillow raises many types for corrupt data; all mean the same here
        raise PreprocessError("not_an_image", f"data is not a readable image ({type(exc).__name__})") from None


def to_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """Luminance as float32 0-255 (H, W), transparency composited onto the background that keeps the
    ink visible (dark ink on transparent goes onto white, light ink onto black)."""
    return luminance(image).astype(np.float32, copy=False)


def luminance(image: Image.Image | np.ndarray) -> np.ndarray:
    """`to_gray`'s values, as uint8 wherever they are whole levels 0-255 (8-bit images and arrays
    without transparency, or fully opaque: canvases and the training sets), else float32."""
    if isinstance(image, np.ndarray):
        array = np.asarray(image)
        if array.dtype.kind not in "biuf" or array.size == 0:  # strings, objects, complex: no pixels
            raise PreprocessError("bad_shape", f"array of {array.dtype} and shape {array.shape} is not an image")
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim == 2:
            if array.dtype == np.uint8:
                return array
            if array.dtype.kind in "bu":
                gray = array.astype(np.float32)
            else:  # NaN, infinities and negatives have no brightness
                gray = np.clip(np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0), 0, None)
            return (gray * (255.0 / max(float(gray.max()), 255.0))).astype(np.float32, copy=False)
        if array.ndim == 3 and array.shape[-1] in (3, 4):
            if array.dtype != np.uint8:  # wider or float values: clipped into 0-255, never wrapped round
                array = np.clip(np.nan_to_num(array.astype(np.float64)), 0, 255).astype(np.uint8)
            if array.shape[-1] == 4 and opaque_rgba(array):  # the alpha path below, in fewer copies
                return np.asarray(Image.fromarray(np.ascontiguousarray(array)).convert("L"))
            image = Image.fromarray(array)
        else:
            raise PreprocessError("bad_shape", f"array of shape {array.shape} is not an image")
    if image.mode == "LAB":  # CIELAB (a TIFF can be): Pillow cannot convert it, but its L band is lightness
        image = image.getchannel("L")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        return array * (255.0 / max(float(array.max()), 255.0) if array.max() > 255 else 1.0)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return np.asarray(image.convert("L"))
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    gray = np.asarray(rgba.convert("L"))
    if opaque(alpha):
        return gray
    alpha = alpha.astype(np.float32) / 255.0
    gray = gray.astype(np.float32)
    visible = alpha > 0.5
    background = 255.0 if visible.any() and gray[visible].mean() < 128 else 0.0
    return gray * alpha + background * (1.0 - alpha)


def opaque(alpha: np.ndarray) -> bool:
    """Whether uint8 alpha is above 0.99 everywhere: then it is ignored."""
    return int(alpha.min()) > 0.99 * 255


def opaque_rgba(array: np.ndarray) -> bool:
    """`opaque` of a uint8 (H, W, 4) array's alpha, in one pass over its pixels read as little-endian
    words, whose top byte is alpha (a strided pass over every fourth byte takes several times longer)."""
    if not array.flags.c_contiguous:
        return opaque(array[..., 3])
    return int(array.view("<u4").min()) >> 24 > 0.99 * 255


def border(gray: np.ndarray) -> np.ndarray:
    """The pixels of the image's four edges, whose median is taken for its background: a digit
    touching the frame (as ISI's do) cannot move it."""
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] with background 0 (the median of the `border`), whichever polarity the
    image has."""
    background = float(np.median(border(gray)))
    ink = background - gray if background > 127 else gray - background
    np.clip(ink, 0, None, out=ink)
    peak = float(ink.max()) if ink.size else 0.0
    if peak < MIN_CONTRAST:
        raise PreprocessError("blank_image", "no ink found: the image is blank or has no contrast")
    return ink / peak


def normalize_digit(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink, scale its longest side to BOX keeping the aspect, centre by mass in SIZE×SIZE."""
    mask = ink >= INK_LEVEL
    if int(mask.sum()) < MIN_INK_PIXELS:
        raise PreprocessError("blank_image", "too little ink to read a digit")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return fit(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def fit(crop: np.ndarray) -> np.ndarray:
    """Ink cropped to its box -> refused if noise, else `centre`d."""
    check_strokes(crop)
    return centre((crop * 255).astype(np.uint8))


def centre(patch: np.ndarray) -> np.ndarray:
    """Ink cropped to its box, as uint8 -> scaled so that its longest side is BOX, centred by mass in
    SIZE×SIZE, as float32 in [0, 1]."""
    h, w = patch.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    patch = Image.fromarray(patch).resize((new_w, new_h), Image.Resampling.BILINEAR)
    patch = np.asarray(patch, dtype=np.float32) / 255.0
    mass = patch.sum()
    if mass <= 0:
        raise PreprocessError("blank_image", "too little ink to read a digit")
    cy = (patch.sum(axis=1) * np.arange(new_h)).sum() / mass
    cx = (patch.sum(axis=0) * np.arange(new_w)).sum() / mass
    top = int(np.clip(round((SIZE - 1) / 2 - cy), 0, SIZE - new_h))
    left = int(np.clip(round((SIZE - 1) / 2 - cx), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = patch
    return out


def normalize_levels(gray: np.ndarray) -> np.ndarray:
    """`normalize_digit(ink_map(gray))` of uint8 gray, equal to the last bit, in integer work on the
    image and float work on 256 numbers. `ink_map` gives every pixel of one level the same ink, so
    its arithmetic is done once per level; ink being monotonic in the level, "ink >= x" is "level at
    most (or, light on dark, at least) some level", which finds the ink box from each row's and
    column's inkiest level and the solid ink of the noise check; the box becomes uint8 ink through a
    table of the levels. Canvases are mostly background: this is most of what `prepare` saves."""
    edge = np.sort(border(gray))
    background = (float(edge[(len(edge) - 1) // 2]) + float(edge[len(edge) // 2])) / 2  # the median
    dark = background > 127  # dark ink on a light background: ink grows as the level falls
    levels = np.arange(256, dtype=np.float32)
    ink = background - levels if dark else levels - background  # as ink_map, level by level
    np.clip(ink, 0, None, out=ink)
    inkiest = np.min if dark else np.max
    across, down = inkiest(gray, axis=1), inkiest(gray, axis=0)  # each row's and column's inkiest level
    peak = float(ink[int(inkiest(across))])
    if peak < MIN_CONTRAST:
        raise PreprocessError("blank_image", "no ink found: the image is blank or has no contrast")
    ink /= peak
    reaches = np.less_equal if dark else np.greater_equal  # reaches(level, limit): as much ink as at limit

    def limit(share: float) -> int:
        """The last level whose ink is at least `share`: all inkier levels are too."""
        inked = np.flatnonzero(ink >= share)
        return int(inked[-1] if dark else inked[0])

    rows, cols = np.flatnonzero(reaches(across, limit(INK_LEVEL))), np.flatnonzero(reaches(down, limit(INK_LEVEL)))
    box = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # each row and column of the box holds ink, so a box of four or more of either has enough
    if max(len(rows), len(cols)) < MIN_INK_PIXELS and np.count_nonzero(reaches(box, limit(INK_LEVEL))) < MIN_INK_PIXELS:
        raise PreprocessError("blank_image", "too little ink to read a digit")
    check_solid(reaches(box, limit(NOISE_LEVEL)))
    return centre(np.take((ink * 255).astype(np.uint8), box))


def prepare(image: Image.Image | np.ndarray) -> np.ndarray:
    """One image (PIL, or uint8 array H×W / H×W×C, any size, either polarity) -> float32 (SIZE, SIZE)
    ink in [0, 1]. Raises PreprocessError for anything that is not a readable digit image."""
    gray = luminance(image)
    if gray.ndim != 2 or min(gray.shape) < 2:
        raise PreprocessError("bad_shape", f"image of shape {gray.shape} is too small to hold a digit")
    if gray.dtype == np.uint8:
        return normalize_levels(gray)
    return normalize_digit(ink_map(gray))


def prepare_bytes(data: bytes) -> np.ndarray:
    return prepare(decode_pixels(data))
