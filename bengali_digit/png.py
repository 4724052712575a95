"""Canvas PNGs decoded fast, to the same pixels as Pillow. Decoding was the largest stage of a worker
(docs/benchmarks.md, "Preprocessing speed"), and a canvas PNG is mostly long runs of background,
which the zlib inside every PNG library here (Pillow's, libspng's through pyspng, libpng's) inflates
slowly. libdeflate inflates it about ten times faster but does not unfilter scanlines; libspng does,
and has no entry point for scanlines already inflated. So libdeflate inflates them and they reach
libspng as a PNG of stored (uncompressed) deflate blocks, which it copies and unfilters.

Only plain PNGs take this path: 8 bits a sample, grey, RGB or RGBA, no transparency chunk, no
animation, no EXIF. Everything else, and anything either library refuses, is left to Pillow
(`preprocess.decode_pixels`), whose reading stays the reference: tests/test_png.py holds the two equal.
"""

from __future__ import annotations

import struct

import deflate
import numpy as np
import pyspng
from PIL import Image

MODES = {0: "L", 2: "RGB", 6: "RGBA"}  # IHDR colour type -> Pillow's mode, at 8 bits a sample
SIGNATURE = b"\x89PNG\r\n\x1a\n"
STORED_BLOCK = 65535  # the most bytes one stored deflate block holds


def plain_png(data: bytes, image: Image.Image) -> np.ndarray | None:
    """The pixels, (H, W) or (H, W, C) uint8, of a plain PNG whose header Pillow has read (and whose
    size has been checked); None for any other image. An eXIf chunk may follow the pixels, so it is
    looked for in the raw bytes: a chance match in compressed data only costs the fast path."""
    if image.format != "PNG" or data[12:16] != b"IHDR" or data[24] != 8 or MODES.get(data[25]) != image.mode:
        return None
    if "transparency" in image.info or getattr(image, "n_frames", 1) > 1 or b"eXIf" in data:
        return None
    try:  # interlaced PNGs (rare from canvases) go to libspng as they are
        pixels = pyspng.load(data if data[28] else stored(data), image.mode)
    except Exception:  # RuntimeError or DeflateError on corrupt data, whose refusal is Pillow's to word
        return None
    return pixels if pixels.shape[:2] == (image.height, image.width) else None


def stored(data: bytes) -> bytes:
    """A non-interlaced PNG -> the same image as header, stored deflate blocks and end: its scanlines
    inflated by libdeflate, which must make exactly height × (1 + width × channels) bytes of them."""
    width, height = struct.unpack_from(">II", data, 16)
    size = height * (1 + width * len(MODES[data[25]]))  # a mode's name has a letter per channel
    idat, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            idat.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    raw = memoryview(deflate.zlib_decompress(b"".join(idat), size))
    if len(raw) != size:
        raise ValueError(f"the pixel data inflates to {len(raw)} bytes, not {size}")
    parts = [SIGNATURE, data[8:33]]  # the signature and the IHDR chunk as sent
    for start in range(0, size, STORED_BLOCK):
        block = raw[start : start + STORED_BLOCK]
        last = start + STORED_BLOCK >= size
        body = b"".join([b"\x78\x01" if start == 0 else b"",  # a zlib header: deflate, no dictionary
                         struct.pack("<BHH", last, len(block), 0xFFFF ^ len(block)), block,
                         struct.pack(">I", deflate.adler32(raw)) if last else b""])
        parts.append(chunk(b"IDAT", body))
    parts.append(chunk(b"IEND", b""))
    return b"".join(parts)


def chunk(kind: bytes, body: bytes) -> bytes:
    crc = deflate.crc32(body, deflate.crc32(kind))
    return b"".join([struct.pack(">I", len(body)), kind, body, struct.pack(">I", crc)])
