"""The bad-input corpus: every kind of request a person or a program might send, made on the spot
(no binary fixtures), with the answer TorchServe and the gateway each owe it.

Each `Case` builds one raw HTTP request (method, headers, body bytes), so that `requests` in the
tests and aiohttp in the soak (`bench/soak.py`) send exactly the same bytes. Expected answers are
(status, error code); code None means 200 with a prediction, and `digit` says which.
"""

from __future__ import annotations

import base64
import io
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import requests
from PIL import Image, ImageOps

from synthetic.digit_images import bengali_fonts, png_bytes, render_digit


@dataclass(frozen=True)
class Raw:
    method: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Raw]
    torchserve: tuple[int, str | None]  # (status, error code) from TorchServe's inference API
    gateway: tuple[int, str | None]  # the same through the gateway's /api/predict
    digit: int | None = None  # for answers of 200: the digit the image shows
    heavy: bool = False  # megabytes of body: sent rarely in the soak

    def request(self) -> Raw:
        return _built(self.name)


DIGIT = 3  # read right by the committed model in every form below (asserted by the tests)


@cache
def font():
    return bengali_fonts()[-1]


@cache
def digit_image(digit: int = DIGIT) -> Image.Image:
    """Dark digit on white, 280×280, like the drawing page sends."""
    return render_digit(digit, font(), 150, (140, 140), 3)


@cache
def good_png(digit: int = DIGIT) -> bytes:
    return png_bytes(digit_image(digit))


def encoded(image: Image.Image, fmt: str, **save_args) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **save_args)
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def raw(body: bytes, content_type: str | None = None, method: str = "POST") -> Raw:
    return Raw(method, {"Content-Type": content_type} if content_type else {}, body)


def form(**kwargs) -> Raw:
    """A body the way `requests` encodes it (JSON, multipart), as raw bytes and headers."""
    prepared = requests.Request("POST", "http://127.0.0.1/", **kwargs).prepare()
    headers = {k: v for k, v in prepared.headers.items() if k.lower() == "content-type"}
    body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
    return Raw("POST", headers, body)


# --- images that are legitimate pictures of a digit in unusual encodings -----------------------

def cmyk_jpeg() -> bytes:
    return encoded(digit_image().convert("CMYK"), "JPEG", quality=95)


def png16() -> bytes:
    """16-bit greyscale PNG (Pillow mode I;16): values 0-65535."""
    wide = np.asarray(digit_image(), dtype=np.uint16) * 257
    return encoded(Image.fromarray(wide), "PNG")


def palette_png_transparent() -> bytes:
    """Palette PNG whose white entry is transparent: dark ink on nothing."""
    p = digit_image().convert("RGB").quantize(colors=16)
    white = int(np.asarray(p)[0, 0])  # the corner is background
    return encoded(p, "PNG", transparency=white)


def animated_gif() -> bytes:
    """Two frames: ৩ then ৭. Read by its first frame, as a still preview would show it."""
    first, second = digit_image(DIGIT).convert("P"), digit_image(7).convert("P")
    return encoded(first, "GIF", save_all=True, append_images=[second], duration=500, loop=0)


def exif_rotated_jpeg() -> bytes:
    """The digit stored lying on its side with EXIF Orientation 6 ("rotate 90° clockwise to
    show"), the way phone cameras save portrait photos; upright once the tag is honoured."""
    stored = digit_image().rotate(90, expand=True)  # counter-clockwise; Orientation 6 undoes it
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(stored.convert("RGB"), "JPEG", quality=95, exif=exif.tobytes())


# --- images with nothing to read --------------------------------------------------------------

def noise_png() -> bytes:
    """Random RGB pixels, 280×280."""
    return encoded(Image.fromarray(np.random.default_rng(6).integers(0, 256, (280, 280, 3), dtype=np.uint8)), "PNG")


def bomb_png(side: int = 20_000) -> bytes:
    """A real, valid 1-bit PNG of side×side white pixels: a few tens of KB that would decode to
    400 M pixels. Built row by row so that making it costs no memory either."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\xff" * ((side + 7) // 8)  # filter byte "none", then the packed pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def broken_crc_png() -> bytes:
    """A good PNG with one bit of its IHDR checksum flipped (bytes 29-32)."""
    data = bytearray(good_png())
    data[29] ^= 0x01
    return bytes(data)


def strip_png() -> bytes:
    """1×10,000 pixels with a black stroke in its middle."""
    strip = Image.new("L", (1, 10_000), 255)
    strip.paste(0, (0, 4000, 1, 6000))
    return png_bytes(strip)


def nested_json(depth: int = 100_000) -> bytes:
    """{"image": {"image": ... }} nested far beyond any parser's recursion limit."""
    return b'{"image": ' * depth + b'"x"' + b"}" * depth


MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
               b"trailer<</Root 1 0 R>>\n%%EOF\n")
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280"><text x="100" y="180" '
       b'font-size="160">\xe0\xa7\xa9</text></svg>')
HTML = b"<!doctype html><html><body><img src=x onerror=alert(1)><p>\xe0\xa7\xa9</p></body></html>"
MB = 1024 * 1024
OK = (200, None)

CASES: list[Case] = [
    # nothing, or not an image at all
    Case("empty body", lambda: raw(b""), (400, "empty_input"), (400, "empty_input")),
    Case("zero-byte PNG file", lambda: form(files={"image": ("digit.png", b"", "image/png")}),
         (400, "empty_input"), (400, "empty_input")),
    Case("truncated PNG", lambda: raw(good_png()[: len(good_png()) // 2], "image/png"),
         (415, "not_an_image"), (415, "not_an_image")),
    Case("PNG with a broken CRC", lambda: raw(broken_crc_png(), "image/png"), (415, "not_an_image"),
         (415, "not_an_image")),
    Case("plain text", lambda: raw(b"three", "text/plain"), (400, "bad_base64"), (400, "bad_base64")),
    Case("HTML", lambda: raw(HTML, "text/html"), (400, "bad_base64"), (400, "bad_base64")),
    Case("SVG", lambda: raw(SVG, "image/svg+xml"), (415, "not_an_image"), (415, "not_an_image")),
    # TorchServe reads any content type as bytes; the gateway refuses types that are no image first
    Case("PDF", lambda: raw(MINIMAL_PDF, "application/pdf"), (415, "not_an_image"),
         (415, "unsupported_media_type")),
    Case("NUL bytes", lambda: raw(b"\x00" * 4096, "application/octet-stream"), (415, "not_an_image"),
         (415, "not_an_image")),
    Case("text that is not UTF-8", lambda: raw(b"\xff\xfe\xfa digit", "text/plain"), (415, "not_an_image"),
         (400, "bad_request")),
    # JSON that is wrong
    Case("JSON without image", lambda: form(json={"picture": data_url(good_png())}), (400, "missing_image"),
         (400, "missing_image")),
    Case("JSON image not a string", lambda: form(json={"image": [1, 2, 3]}), (400, "bad_request"),
         (400, "bad_request")),
    Case("JSON array", lambda: form(json=[data_url(good_png())]), (400, "bad_request"), (400, "bad_request")),
    Case("malformed JSON", lambda: raw(b'{"image": "data:image/png;base64,', "application/json"),
         (400, "bad_request"), (400, "bad_request")),
    Case("deeply nested JSON", lambda: raw(nested_json(), "application/json"), (400, "bad_request"),
         (400, "bad_request")),
    Case("bad base64", lambda: form(json={"image": "data:image/png;base64,@@not*base64@@"}), (400, "bad_base64"),
         (400, "bad_base64")),
    Case("data URL of a non-image type", lambda: form(json={"image": data_url(HTML, "text/html")}),
         (415, "unsupported_media_type"), (415, "unsupported_media_type")),
    Case("multipart without a file", lambda: form(data={"note": "three"}, files={"x": (None, "3")}),
         (415, "not_an_image"), (400, "missing_image")),
    # images of the wrong size
    Case("1×1 image", lambda: raw(png_bytes(Image.new("L", (1, 1), 0)), "image/png"),
         (400, "bad_shape"), (400, "bad_shape")),
    Case("1×10,000 strip", lambda: raw(strip_png(), "image/png"), (413, "image_too_large"),
         (413, "image_too_large")),
    Case("decompression bomb, 20,000×20,000 PNG", lambda: raw(bomb_png(), "image/png"), (413, "image_too_large"),
         (413, "image_too_large")),
    Case("5 MB body (over the 4 MiB image limit)", lambda: raw(b"\x89PNG" + b"\x00" * (5 * MB), "image/png"),
         (413, "image_too_large"), (413, "image_too_large"), heavy=True),
    # TorchServe's frontend refuses bodies over max_request_size itself: a bare 413, no JSON body
    Case("7 MB body (over every request limit)", lambda: raw(b"\x89PNG" + b"\x00" * (7 * MB), "image/png"),
         (413, ""), (413, "image_too_large"), heavy=True),
    # legitimate images in unusual forms: answered, and right
    Case("animated GIF (first frame read)", lambda: raw(animated_gif(), "image/gif"), OK, OK, digit=DIGIT),
    Case("CMYK JPEG", lambda: raw(cmyk_jpeg(), "image/jpeg"), OK, OK, digit=DIGIT),
    Case("16-bit PNG", lambda: raw(png16(), "image/png"), OK, OK, digit=DIGIT),
    Case("palette PNG with transparency", lambda: raw(palette_png_transparent(), "image/png"), OK, OK,
         digit=DIGIT),
    Case("EXIF-rotated JPEG", lambda: raw(exif_rotated_jpeg(), "image/jpeg"), OK, OK, digit=DIGIT),
    Case("PNG labelled image/jpeg", lambda: raw(good_png(), "image/jpeg"), OK, OK, digit=DIGIT),
    # a valid image under a type that says otherwise: TorchServe falls back to the bytes, the
    # gateway (which reads the body by its type) says what is wrong with it
    Case("PNG labelled text/plain", lambda: raw(good_png(), "text/plain"), OK, (400, "bad_request"), digit=DIGIT),
    Case("PNG labelled application/json", lambda: raw(good_png(), "application/json"), OK, (400, "bad_request"),
         digit=DIGIT),
    # readable images with no digit on them
    Case("fully transparent", lambda: raw(png_bytes(Image.new("RGBA", (280, 280), (0, 0, 0, 0)))),
         (422, "blank_image"), (422, "blank_image")),
    Case("all white", lambda: raw(png_bytes(Image.new("L", (280, 280), 255))), (422, "blank_image"),
         (422, "blank_image")),
    Case("all black", lambda: raw(encoded(Image.new("RGB", (280, 280), 0), "JPEG")), (422, "blank_image"),
         (422, "blank_image")),
    Case("uniform grey", lambda: raw(png_bytes(Image.new("L", (280, 280), 128))), (422, "blank_image"),
         (422, "blank_image")),
    Case("random noise", lambda: raw(noise_png(), "image/png"), (422, "no_digit"), (422, "no_digit")),
    # TorchServe treats any method on /predictions as a prediction (here: of an empty body); the
    # gateway allows POST only
    Case("wrong method (GET)", lambda: raw(b"", method="GET"), (400, "empty_input"), (405, "method_not_allowed")),
    Case("wrong method (DELETE)", lambda: raw(good_png(), "image/png", method="DELETE"), OK,
         (405, "method_not_allowed"), digit=DIGIT),
]
BY_NAME = {case.name: case for case in CASES}


@cache
def _built(name: str) -> Raw:
    return BY_NAME[name].build()


def good_requests() -> list[tuple[Raw, int]]:
    """Correct requests in every format the service accepts, with the digit each shows."""
    out = []
    for digit in (0, 3, 5, 8):
        png = good_png(digit)
        out += [(raw(png, "image/png"), digit),
                (form(json={"image": data_url(png)}), digit),
                (raw(data_url(png).encode(), "text/plain"), digit),
                (form(files={"image": ("digit.png", png, "image/png")}), digit),
                (raw(encoded(digit_image(digit).convert("RGB"), "JPEG", quality=90), "image/jpeg"), digit),
                (raw(png_bytes(ImageOps.invert(digit_image(digit)))), digit)]
    return out


def describe(case: Case, via: str) -> str:
    status, code = case.torchserve if via == "torchserve" else case.gateway
    return f"{status} {code}" if code else (f"{status} (digit {case.digit})" if status == 200 else str(status))


if __name__ == "__main__":  # the table in docs/reliability.md
    print("| # | input | TorchServe | gateway |\n|---|---|---|---|")
    for i, case in enumerate(CASES, 1):
        print(f"| {i} | {case.name} | {describe(case, 'torchserve')} | {describe(case, 'gateway')} |")

# What an answer must never show: a stack trace, a source path, a Java frame.
LEAK = re.compile(r'Traceback|File "|\.py\b|site-packages|/work/|/tmp/|/usr/|/home/|\bat (org|java|io)\.')
