"""What a request may be, and the error a refused one gets: the codes, their HTTP statuses and the
size limits, shared by the handler (which decodes images) and the gateway (which only reads their
headers). Plain Python: the gateway imports this and never numpy or torch."""

from __future__ import annotations

MAX_IMAGE_BYTES = 4 * 1024 * 1024  # an encoded image, however it is sent
MAX_PIXELS = 4096 * 4096  # larger images are refused from their header, before decoding (decompression bombs)
MAX_SIDE = 8192

# Refusals of the strokes a number or a correction may come with (bengali_digit.strokes).
STROKES_STATUS_BY_CODE = {
    "bad_strokes": 400,
    "too_many_points": 413,  # more strokes or points than a drawing has (bengali_digit.strokes.MAX_POINTS)
}

# Refusals of a correction (POST /api/feedback), never of a digit's prediction: the image in one is
# refused with the codes below, like any other.
FEEDBACK_STATUS_BY_CODE = {
    "bad_label": 400,  # the digit the person says they drew: missing, or not an integer 0-9
    "bad_feedback": 400,  # what the model said (predicted, probabilities, model_version) is malformed
    **STROKES_STATUS_BY_CODE,
}

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
    "no_digit": 422,
    "too_many_digits": 422,  # bengali_number: more digits than one number may have
    **FEEDBACK_STATUS_BY_CODE,
}


class PreprocessError(ValueError):
    """An input that cannot become a digit image. `code` is a stable machine-readable reason
    (a key of STATUS_BY_CODE), `message` a sentence for the person who sent it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS_BY_CODE[code]


def check_size(width: int, height: int) -> None:
    """Refuse an image too large to decode safely, from the size its header states."""
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise PreprocessError("image_too_large",
                              f"image is {width}×{height}; at most {MAX_SIDE} px a side and {MAX_PIXELS} pixels")
