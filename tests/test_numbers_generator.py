"""The number generator (training/numbers.py) on strokes traced from system fonts, so that no
../shared data is needed: lengths, the three spacing regimes measured on the returned ink boxes,
boxes that match the drawn ink, one pen per number, determinism. Recognition is tested elsewhere."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from skimage.morphology import medial_axis

from synthetic.digit_images import bengali_fonts
from synthetic.strokes import font_strokes
from training import numbers

PER_REGIME = 24  # four numbers of each length per regime
# The figures, written out here so that a change to the generator's constants fails a test.
GAPS = {"spaced": (0.15, 0.6), "tight": (0.0, 0.15), "touching": (-0.15, 0.0)}  # of the digits' height
HEIGHTS, HEIGHT_JITTER, BASELINE_JITTER = (70, 150), 0.15, 0.08
TOLERANCE = 2  # px: boxes are rounded outwards to whole pixels


@pytest.fixture(scope="module")
def source() -> list[tuple[int, list]]:
    """Every digit in two fonts, as a list of (label, strokes): two drawings per label to pick from."""
    return [(d, font_strokes(d, font)) for font in bengali_fonts()[:2] for d in range(10)]


@pytest.fixture(scope="module")
def made(source) -> list[numbers.Number]:
    return list(numbers.generate(source, PER_REGIME, seed=7))


def box_gaps(n: numbers.Number) -> list[float]:
    """Gaps between neighbouring ink boxes as fractions of their mean height, measured on the boxes."""
    b = n.boxes
    return [(right[0] - left[2]) / ((left[3] - left[1] + right[3] - right[1]) / 2)
            for left, right in pairwise(b)]


def test_lengths_labels_and_boxes_as_asked(made):
    assert set(numbers.REGIMES) == set(GAPS)
    for regime in GAPS:
        lengths = sorted(n.length for n in made if n.regime == regime)
        assert lengths == sorted(list(numbers.LENGTHS) * (PER_REGIME // len(numbers.LENGTHS)))
    for n in made:
        assert len(n.label) == n.length == len(n.boxes)
        assert n.label.isdigit() and n.label.isascii()


def test_digits_come_from_the_source_only():
    fonts = bengali_fonts()
    source = {d: font_strokes(d, fonts[0]) for d in (2, 0, 6)}  # a mapping label -> strokes works too
    labels = "".join(n.label for n in numbers.generate(source, 12, seed=1))
    assert set(labels) == {"2", "0", "6"}


@pytest.mark.parametrize("regime", list(GAPS))
def test_gaps_between_ink_boxes_follow_the_regime(made, regime):
    low, high = GAPS[regime]
    gaps = [g for n in made if n.regime == regime for g in box_gaps(n)]
    slack = 2 * TOLERANCE / 70  # rounding, relative to the smallest height
    assert len(gaps) == PER_REGIME // 6 * sum(k - 1 for k in numbers.LENGTHS)
    assert min(gaps) >= low - slack and max(gaps) <= high + slack, (min(gaps), max(gaps))
    # and they fill the range rather than sitting at one end of it
    assert np.mean(gaps) == pytest.approx((low + high) / 2, abs=(high - low) / 4)
    if regime == "touching":
        overlapping = [n.boxes[i + 1][0] < n.boxes[i][2] for n in made if n.regime == regime
                       for i in range(n.length - 1)]
        assert np.mean(overlapping) > 0.9
    if regime == "spaced":  # there is paper between the digits: a column of white in every gap
        for n in (n for n in made if n.regime == regime):
            for a, b in pairwise(n.boxes):
                between = n.image[:, a[2] + TOLERANCE:b[0] - TOLERANCE]
                assert between.size and (between == 255).all()


def test_boxes_inside_the_image_left_to_right(made):
    for n in made:
        h, w = n.image.shape
        for x0, y0, x1, y1 in n.boxes:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        lefts = [b[0] for b in n.boxes]
        centres = [(b[0] + b[2]) / 2 for b in n.boxes]
        assert lefts == sorted(lefts) and centres == sorted(centres) and len(set(lefts)) == n.length
        assert w > max(b[2] for b in n.boxes) and h > max(b[3] for b in n.boxes)  # a margin of paper


def test_boxes_are_the_ink_boxes(made):
    """A lone digit's box is its ink's; in spaced numbers every ink pixel lies in its digit's box and
    each box is touched by ink on all four sides."""
    for n in made:
        ink = n.image < 255
        if n.length == 1:
            ys, xs = np.nonzero(ink)
            assert np.allclose(n.boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=TOLERANCE)
        if n.regime != "spaced":
            continue
        covered = np.zeros_like(ink)
        for x0, y0, x1, y1 in n.boxes:
            covered[max(y0 - TOLERANCE, 0):y1 + TOLERANCE, max(x0 - TOLERANCE, 0):x1 + TOLERANCE] = True
            inside = ink[y0:y1, x0:x1]
            assert inside[:TOLERANCE].any() and inside[-TOLERANCE:].any()
            assert inside[:, :TOLERANCE].any() and inside[:, -TOLERANCE:].any()
        assert not (ink & ~covered).any()


def test_heights_and_baseline(made):
    for n in made:
        heights = np.array([b[3] - b[1] for b in n.boxes])
        assert (heights >= n.height * (1 - HEIGHT_JITTER) - TOLERANCE).all()
        assert (heights <= n.height * (1 + HEIGHT_JITTER) + TOLERANCE).all()
        bottoms = np.array([b[3] for b in n.boxes])
        assert np.ptp(bottoms) <= 2 * BASELINE_JITTER * heights.max() + TOLERANCE
    assert HEIGHTS[0] <= min(n.height for n in made) and max(n.height for n in made) <= HEIGHTS[1]


def test_one_pen_per_number_8_to_18_px(made):
    """The pen as drawn: twice the distance from the middle of a stroke to its edge, taken at the
    upper quartile because the medial axis has short spurs where strokes bend."""
    for n in made:
        assert 8 <= n.pen <= 18
        skeleton, distance = medial_axis(n.image < 128, return_distance=True)
        drawn = 2 * np.percentile(distance[skeleton], 75)
        assert 0.75 * n.pen <= drawn <= 1.2 * n.pen, (n.label, n.pen, drawn)
    assert np.ptp([n.pen for n in made]) > 5  # pens vary from number to number


def test_drawn_like_the_page(made):
    for n in made:
        assert n.image.dtype == np.uint8 and n.image.ndim == 2
        assert n.image.max() == 255 and n.image.min() == numbers.INK  # dark ink on white
        assert len(np.unique(n.image)) > 10  # anti-aliased edges


def test_same_seed_same_numbers_other_seed_other(source, made):
    again = list(numbers.generate(source, PER_REGIME, seed=7))
    assert all(np.array_equal(a.image, b.image) and a.label == b.label and a.boxes == b.boxes
               for a, b in zip(made, again, strict=True))
    other = list(numbers.generate(source, PER_REGIME, seed=8))
    assert sum(a.label != b.label for a, b in zip(made, other, strict=True)) > len(made) / 2


def test_one_number_made_again_alone(source, made):
    """A failure reported as (regime, index) is made again without making the set."""
    drawings = numbers.as_drawings(source)
    alone = numbers.number_at(drawings, "touching", 17, seed=7)
    inset = [n for n in made if n.regime == "touching"][17]
    assert np.array_equal(alone.image, inset.image) and alone.label == inset.label


def test_a_source_without_ink_is_refused():
    with pytest.raises(ValueError):
        list(numbers.generate({3: []}, 1, seed=0))
