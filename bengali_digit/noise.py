"""Random pixels are not a digit: telling strokes from noise, in numpy alone (the serving images
carry no scipy). Used by the preprocessing of one digit and by the number reader's cutting."""

from __future__ import annotations

import numpy as np

from bengali_digit.limits import PreprocessError

# A digit is a few strokes: the outline of its solid ink (>= NOISE_LEVEL) is smooth, the largest
# MAX_PIECES pieces of that ink hold nearly all of it, and it has a few holes. Random pixels fail all
# three. The thresholds sit between what every digit and canvas drawing of ../shared/data reaches and
# what noise reaches, with the margins measured in docs/reliability.md ("Decisions on the ambiguous
# cases"). Noise in a picture of a few dozen pixels is not told apart.
NOISE_LEVEL = 0.5
SMOOTH = 0.75  # corners per pixel (of ink or background, whichever is fewer) below which ink is strokes
MAX_LABEL_SIDE = 512  # pieces are counted on every k-th pixel of larger crops: i.i.d. noise stays noise
MAX_PIECES = 8
MIN_PIECES_SHARE = 0.5
MAX_HOLES = 30


def check_strokes(ink: np.ndarray) -> None:
    """Refuse random pixels (see NOISE_LEVEL): thousands of specks, or one piece full of holes."""
    check_solid(ink >= NOISE_LEVEL)


def check_solid(solid: np.ndarray) -> None:
    """`check_strokes` of the solid ink (ink >= NOISE_LEVEL) alone."""
    area = int(np.count_nonzero(solid))
    odd, diagonal = outline_corners(solid)
    if odd + 2 * diagonal < SMOOTH * min(area, solid.size - area):
        return  # a smooth outline: strokes (labelling the pieces below is the costly part)
    step = -(-max(solid.shape) // MAX_LABEL_SIDE)
    if step > 1:  # millions of specks would take seconds to label
        solid = solid[::step, ::step]
        area = int(np.count_nonzero(solid))
    convex, concave, diagonal = corners(solid)
    sizes = piece_sizes(solid)
    if len(sizes) > MAX_PIECES and sizes[:MAX_PIECES].sum() < MIN_PIECES_SHARE * area:
        raise PreprocessError("no_digit", "no digit found: the ink is scattered specks (noise), not strokes")
    euler = (convex - concave - 2 * diagonal) // 4  # pieces minus holes (Gray's bit-quad formula)
    if len(sizes) - euler > MAX_HOLES:
        raise PreprocessError("no_digit", "no digit found: the ink is riddled with holes (noise), not strokes")


def corners(mask: np.ndarray) -> tuple[int, int, int]:
    """How many 2×2 windows over `mask` (padded with background) hold one pixel of it (a convex
    corner of its outline), three (a concave one), or two diagonal ones (a corner of each)."""
    m = np.pad(mask, 1).astype(np.uint8)
    quads = np.bincount((m[:-1, :-1] + 2 * m[:-1, 1:] + 4 * m[1:, :-1] + 8 * m[1:, 1:]).ravel(), minlength=16)
    return int(quads[[1, 2, 4, 8]].sum()), int(quads[[7, 11, 13, 14]].sum()), int(quads[[6, 9]].sum())


def outline_corners(mask: np.ndarray) -> tuple[int, int]:
    """`corners`' convex + concave and diagonal counts, in boolean operations alone: a window holds
    one or three pixels of `mask` when its two rows differ in parity, two diagonal ones when both rows
    and its left column change. Every digit passes through this; `corners` only where it fails."""
    h, w = mask.shape
    m = np.zeros((h + 2, w + 2), dtype=bool)
    m[1:-1, 1:-1] = mask
    across = m[:, :-1] ^ m[:, 1:]  # each row's pixel differs from its right neighbour
    odd = np.count_nonzero(across[:-1] ^ across[1:])
    return odd, np.count_nonzero(across[:-1] & across[1:] & (m[:-1, :-1] ^ m[1:, :-1]))


def piece_sizes(mask: np.ndarray) -> np.ndarray:
    """Pixel counts of the 8-connected pieces of `mask`, largest first."""
    labels, n = label_pieces(mask)
    return np.sort(np.bincount(labels[labels >= 0], minlength=n))[::-1] if n else np.zeros(0, dtype=np.int64)


def label_pieces(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """(labels, n): each pixel of `mask` gets the index 0..n-1 of its 8-connected piece, others -1;
    in numpy alone (the serving images carry no scipy). The nodes are the runs of each row, joined
    where runs of adjacent rows touch; union-find over them, each round hooking every root to the
    smallest root it touches and then jumping every label to its root: a handful of rounds on any image."""
    h, w = mask.shape
    padded = np.zeros((h, w + 1), dtype=bool)  # a gap after each row, so that no run wraps round
    padded[:, :w] = mask
    flat = padded.ravel()
    starts = flat & ~np.concatenate(([False], flat[:-1]))
    n = int(np.count_nonzero(starts))
    if n == 0:
        return np.full((h, w), -1, dtype=np.int64), 0
    run = np.where(flat, np.cumsum(starts, dtype=np.int32) - 1, -1).reshape(h, w + 1)[:, :w]
    pairs = []
    for dx in (-1, 0, 1):  # below left, below, below right
        upper, lower = run[:-1, max(0, -dx) : w - max(0, dx)], run[1:, max(0, dx) : w - max(0, -dx)]
        both = (upper >= 0) & (lower >= 0)
        pairs.append(upper[both].astype(np.int64) * n + lower[both])
    edges = np.unique(np.concatenate(pairs))
    u, v = edges // n, edges % n
    parent = np.arange(n)
    while True:  # ends: a round that changes nothing hooks nothing; each changing one lowers a root
        pu, pv = parent[u], parent[v]
        differ = pu != pv
        if not differ.any():
            break
        np.minimum.at(parent, np.maximum(pu[differ], pv[differ]), np.minimum(pu[differ], pv[differ]))
        while not np.array_equal(parent[parent], parent):
            parent = parent[parent]
    roots, piece = np.unique(parent, return_inverse=True)
    return np.where(run >= 0, piece[np.maximum(run, 0)], -1), len(roots)
