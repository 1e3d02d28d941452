"""Drawing one image of the synthetic WSOL benchmark (design "v3a" of SYNTHETIC.md).

An image of side ``S`` holds, painted in this order over a smooth background:

1. 2–4 **distractors** (rotated squares, triangles, bars) of low saturation that
   never decide the class;
2. a striped elliptical **body** whose hue carries weak class evidence
   (``h = y/K + N(0, 0.01)`` with probability 0.65, else uniform);
3. a saturated **head** disc at one end of the body whose hue decides the class
   (``y/K`` with probability 0.95, else another class's hue);
4. pixel noise ``N(0, 5)``, then rounding and clipping to uint8.

The object mask is body ∪ head, the part mask is the head. Coordinates are in
pixels with the image spanning ``[0, S]²`` and pixel centres at ``k + 0.5``.
Shapes are rasterized by OpenCV (``fillConvexPoly`` for polygons and the body's
128-gon, ``circle`` for the head) at 1/256-pixel precision in integer arithmetic,
so the same vertices give the same pixels on every platform. This rasterization
covers the pixels the outline touches; with it the 64-px design measures what
SYNTHETIC.md reports (object 26% of the image, head 6.0% of the object). Sizes given in pixels
by the design (distractor size, stripe period) are for 64 px and scale with ``S``.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

REFERENCE_SIZE = 64  # the design's pixel quantities are given at this image size
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 6]  # fixed, so the same pixels give the same bytes

_SHIFT = 8  # fractional bits of fillConvexPoly's fixed-point vertices
_GRID = 4  # background: GRID×GRID colour cells
_BODY_VERTICES = 128


@dataclass(frozen=True)
class SyntheticSample:
    """One rendered image with its annotations and the latent variables behind it."""

    image: np.ndarray  # S×S×3 uint8, RGB
    object_mask: np.ndarray  # S×S bool: body ∪ head
    part_mask: np.ndarray  # S×S bool: head
    distractor_map: np.ndarray  # S×S uint8: k ≥ 1 where distractor k is visible, else 0
    label: int  # the image's class y
    head_class: int  # class whose hue the head shows (== label with probability 0.95)
    body_hue_informative: bool  # body hue drawn around y/K (probability 0.65)
    latents: BodyLatents  # the body's drawn attributes (pretext labels, analyses)


@dataclass(frozen=True)
class BodyLatents:
    """The drawn attributes of the object that no annotation file records."""

    angle: float  # direction of the body's long axis towards the head, radians in [0, 2π)
    stripe_period: float  # in pixels at the reference size 64, in [4, 7)
    body_hue: float  # hue of the body colour, in [0, 1)
    head_hue: float  # hue of the head colour, in [0, 1)


def hsv_to_rgb(h: np.ndarray | float, s: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """HSV in [0, 1] (hue wraps modulo 1) → RGB in [0, 255], float64 of shape ``(*h.shape, 3)``."""
    h, s, v = np.broadcast_arrays(
        np.asarray(h, float) % 1.0, np.asarray(s, float), np.asarray(v, float)
    )
    h6 = h * 6.0
    sector = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    # Rows: sector 0..5; columns: which of (v, q, p, t) feeds R, G, B.
    choices = np.stack([v, q, p, t], axis=-1)
    table = np.array([[0, 3, 2], [1, 0, 2], [2, 0, 3], [2, 1, 0], [3, 2, 0], [0, 2, 1]])
    return 255.0 * np.take_along_axis(choices, table[sector], axis=-1)


def _colour(h: float, s: float, v: float) -> tuple[float, float, float]:
    """One HSV colour (hue modulo 1) as RGB in [0, 255]; the same numbers as :func:`hsv_to_rgb`."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return 255.0 * r, 255.0 * g, 255.0 * b


def inclusive_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Inclusive bounding box ``(x0, y0, x1, y1)`` of the True pixels of an H×W mask."""
    cols = np.flatnonzero(mask.any(axis=0))
    rows = np.flatnonzero(mask.any(axis=1))
    if cols.size == 0:
        raise ValueError("inclusive_box of an empty mask")
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an H×W×3 RGB uint8 image or an H×W bool/uint8 mask (stored 0/255)."""
    if array.ndim == 3:
        array = np.ascontiguousarray(array[:, :, ::-1])  # OpenCV writes BGR
    elif array.dtype == bool:
        array = array.astype(np.uint8) * 255
    ok, buffer = cv2.imencode(".png", array, PNG_PARAMS)
    if not ok:  # pragma: no cover - OpenCV fails only on unsupported shapes
        raise RuntimeError("PNG encoding failed")
    return buffer.tobytes()


@lru_cache(maxsize=8)
def _pixel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates of the pixel centres, each S×S (read-only)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(float) + 0.5
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def _fixed_point(points: np.ndarray) -> np.ndarray:
    """Image coordinates → OpenCV's fixed point (pixel centres on integers, ``_SHIFT`` bits)."""
    return np.rint((points - 0.5) * (1 << _SHIFT)).astype(np.int32)


def _fill_polygon(targets: list[tuple[np.ndarray, Any]], vertices: np.ndarray) -> None:
    """Fill the convex polygon ``vertices`` (N×2, x/y) with ``value`` in each (array, value)."""
    points = _fixed_point(vertices)
    for array, value in targets:
        cv2.fillConvexPoly(array, points, value, cv2.LINE_8, _SHIFT)


def _fill_disc(targets: list[tuple[np.ndarray, Any]], centre: np.ndarray, radius: float) -> None:
    """Fill a disc with ``value`` in each (array, value), drawn by OpenCV's ``circle``."""
    x, y = (int(v) for v in _fixed_point(centre))
    radius_fixed = round(radius * (1 << _SHIFT))
    for array, value in targets:
        cv2.circle(array, (x, y), radius_fixed, value, -1, cv2.LINE_8, _SHIFT)


def _oval(centre: np.ndarray, u: np.ndarray, a: float, b: float, n: int) -> np.ndarray:
    """N×2 vertices of an ellipse with semi-axes ``a`` along unit ``u`` and ``b`` across it."""
    angles = np.arange(n) * (2 * np.pi / n)
    v = np.array([-u[1], u[0]])
    return centre + np.outer(a * np.cos(angles), u) + np.outer(b * np.sin(angles), v)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A 4×4 grid of HSV colours around one base colour, bicubic-upsampled: S×S×3 float."""
    h0, s, v = rng.uniform(0, 1), rng.uniform(0, 0.2), rng.uniform(0.35, 0.75)
    dh, ds, dv = (rng.normal(0, sd, (_GRID, _GRID)) for sd in (0.05, 0.05, 0.08))
    cells = hsv_to_rgb(h0 + dh, np.clip(s + ds, 0, 1), np.clip(v + dv, 0, 1))
    return cv2.resize(cells, (size, size), interpolation=cv2.INTER_CUBIC)


def _distractors(rng: np.random.Generator, canvas: np.ndarray, layers: np.ndarray) -> None:
    """Paint 2–4 low-saturation shapes (square, triangle, bar) and record them in ``layers``."""
    size = canvas.shape[0]
    scale = size / REFERENCE_SIZE
    for k in range(1, int(rng.integers(2, 5)) + 1):
        centre = rng.uniform(0, size, 2)
        kind = int(rng.integers(3))
        z = rng.uniform(4, 9) * scale
        angle = rng.uniform(0, 2 * np.pi)
        colour = _colour(rng.uniform(0, 1), rng.uniform(0, 0.35), rng.uniform(0.2, 0.95))
        if kind == 0:  # square of side z
            local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * (z / 2)
        elif kind == 1:  # equilateral triangle of circumradius 0.7z
            turns = np.arange(3) * (2 * np.pi / 3)
            local = 0.7 * z * np.stack([np.cos(turns), np.sin(turns)], axis=1)
        else:  # bar of 1.6z × 0.35z
            local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * (0.8 * z, 0.175 * z)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        _fill_polygon([(canvas, colour), (layers, k)], centre + local @ rotation.T)


def _body_and_head(
    rng: np.random.Generator, canvas: np.ndarray, label: int, classes: int
) -> tuple[np.ndarray, np.ndarray, int, bool, BodyLatents]:
    """Paint the striped body and the head.

    Returns (object mask, head mask, head class, hint, latents).
    """
    size = canvas.shape[0]
    scale = size / REFERENCE_SIZE
    a, b = rng.uniform(0.35, 0.43) * size, rng.uniform(0.17, 0.22) * size
    theta = rng.uniform(0, 2 * np.pi)
    u = np.array([np.cos(theta), np.sin(theta)])
    r = np.sqrt(0.055 * a * b)
    # Shift the body back by 0.65r so that body + head stays centred, then jitter it.
    centre = size / 2 - 0.65 * r * u + rng.uniform(-0.06 * size, 0.06 * size, 2)

    informative = bool(rng.uniform() < 0.65)
    hue = label / classes + rng.normal(0, 0.01) if informative else rng.uniform(0, 1)
    body_colour = _colour(hue, rng.uniform(0.25, 0.45), rng.uniform(0.45, 0.70))
    period, phase = rng.uniform(4, 7) * scale, rng.uniform(0, 2 * np.pi)
    darkening = rng.uniform(0.45, 0.7)
    body = np.zeros((size, size), np.uint8)
    _fill_polygon([(canvas, body_colour), (body, 1)], _oval(centre, u, a, b, _BODY_VERTICES))
    xs, ys = _pixel_centres(size)
    along = (xs - centre[0]) * u[0] + (ys - centre[1]) * u[1]  # t: coordinate along the axis
    stripes = np.sin(2 * np.pi * along / period + phase) > 0.2
    canvas[body.view(bool) & stripes] = np.multiply(body_colour, darkening)

    head_class = (
        label if rng.uniform() < 0.95 else (label + int(rng.integers(1, classes))) % classes
    )
    head_hue = head_class / classes + rng.normal(0, 0.008)
    head_colour = _colour(head_hue, rng.uniform(0.85, 1), rng.uniform(0.85, 1))
    head_centre = centre + (a + 0.3 * r) * u
    head = np.zeros((size, size), np.uint8)
    _fill_disc([(canvas, head_colour), (head, 1)], head_centre, r)
    latents = BodyLatents(
        angle=float(theta),
        stripe_period=float(period / scale),
        body_hue=float(hue % 1.0),
        head_hue=float(head_hue % 1.0),
    )
    return (body | head).view(bool), head.view(bool), head_class, informative, latents


def render_sample(
    rng: np.random.Generator,
    label: int,
    *,
    size: int = 64,
    classes: int = 10,
    noise: bool = True,
) -> SyntheticSample:
    """Draw one image of class ``label`` (0 ≤ label < classes), consuming ``rng`` in a fixed order.

    Order of the draws: background, distractors, body, head, pixel noise; the same
    generator state always gives the same sample. ``noise=False`` skips the last
    step (the clean image, e.g. for figures; every other pixel is unchanged).
    """
    canvas = _background(rng, size)
    layers = np.zeros((size, size), np.uint8)
    _distractors(rng, canvas, layers)
    object_mask, part_mask, head_class, informative, latents = _body_and_head(
        rng, canvas, label, classes
    )
    layers[object_mask] = 0
    if noise:
        canvas += rng.normal(0, 5, canvas.shape)
    image = np.clip(np.rint(canvas, out=canvas), 0, 255, out=canvas).astype(np.uint8)
    return SyntheticSample(
        image=image,
        object_mask=object_mask,
        part_mask=part_mask,
        distractor_map=layers,
        label=label,
        head_class=head_class,
        body_hue_informative=informative,
        latents=latents,
    )
