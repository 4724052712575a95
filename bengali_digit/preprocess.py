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

SIZE = 28  # network input side
BOX = 20  # longest side of the digit inside the frame
MAX_PIXELS = 4096 * 4096  # larger images are refused before decoding (decompression bombs)
MAX_SIDE = 8192
MIN_CONTRAST = 32  # ink must differ from the background by this much (0-255) to count
INK_LEVEL = 0.25  # fraction of the strongest ink that marks the ink's bounding box
MIN_INK_PIXELS = 4


# The HTTP status each refusal maps to; the code itself is what clients and metrics key on.
STATUS_BY_CODE = {
    "empty_input": 400,
    "bad_request": 400,
    "missing_image": 400,
    "bad_base64": 400,
    "bad_shape": 400,
    "image_too_large": 413,
    "not_an_image": 415,
    "unsupported_media_type": 415,
    "blank_image": 422,
}


class PreprocessError(ValueError):
    """An input that cannot become a digit image. `code` is a stable machine-readable reason
    (a key of STATUS_BY_CODE), `message` a sentence for the person who sent it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS_BY_CODE[code]


def decode_image(data: bytes) -> Image.Image:
    """Decode image bytes, refusing oversized images from their header before any pixel is decoded."""
    if not data:
        raise PreprocessError("empty_input", "the request carried no image data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise PreprocessError(
                    "image_too_large",
                    f"image is {width}×{height}; at most {MAX_SIDE} px a side and {MAX_PIXELS} pixels",
                )
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # an animated image is read by its first frame
            image.load()
    except PreprocessError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PreprocessError("image_too_large", "image has too many pixels to decode safely") from None
    except Exception as exc:  # Pillow raises many types for corrupt data; all mean the same here
        raise PreprocessError("not_an_image", f"data is not a readable image ({type(exc).__name__})") from None
    return ImageOps.exif_transpose(image)


def to_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """Luminance as float32 0-255 (H, W), transparency composited onto the background that keeps the
    ink visible (dark ink on transparent goes onto white, light ink onto black)."""
    if isinstance(image, np.ndarray):
        array = np.asarray(image)
        if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
            image = Image.fromarray(array.astype(np.uint8) if array.dtype != np.uint8 else array)
        elif array.ndim == 2:
            return array.astype(np.float32) * (255.0 / max(float(array.max()), 255.0))
        else:
            raise PreprocessError("bad_shape", f"array of shape {array.shape} is not an image")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        return array * (255.0 / max(float(array.max()), 255.0) if array.max() > 255 else 1.0)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float32)
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    gray = np.asarray(rgba.convert("L"), dtype=np.float32)
    if alpha.min() > 0.99:
        return gray
    opaque = alpha > 0.5
    background = 255.0 if opaque.any() and gray[opaque].mean() < 128 else 0.0
    return gray * alpha + background * (1.0 - alpha)


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] with background 0, whichever polarity the image has. The background is
    the median of the border, which a digit touching the frame (as ISI's do) cannot move."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
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
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    patch = Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.BILINEAR)
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


def prepare(image: Image.Image | np.ndarray) -> np.ndarray:
    """One image (PIL, or uint8 array H×W / H×W×C, any size, either polarity) -> float32 (SIZE, SIZE)
    ink in [0, 1]. Raises PreprocessError for anything that is not a readable digit image."""
    gray = to_gray(image)
    if gray.ndim != 2 or min(gray.shape) < 2:
        raise PreprocessError("bad_shape", f"image of shape {gray.shape} is too small to hold a digit")
    return normalize_digit(ink_map(gray))


def prepare_bytes(data: bytes) -> np.ndarray:
    return prepare(decode_image(data))
