"""Component trees of a uint8 map over basins: every component's box at every level.

For a map ``v`` (H×W uint8) and each c in 0..256, the sets ``{v >= c}`` split
into connected components (8- or 4-connected); as c falls they only grow and
merge, so they form a tree. Building it pixel by pixel is a sequential
union-find (slow in Python); here it is built over *basins* instead:

1. Each pixel points to its neighbour (or itself) of largest ``(value, index)``
   (one ``cv2.dilate`` of an exact float key); pointer jumping gives every
   pixel its root, a local maximum. Following the pointers never goes down in
   value, so a basin's pixels with ``v >= c`` are connected to its root through
   pixels with ``v >= c``: in every set, a basin is connected or empty.
2. Two basins are joined in ``{v >= c}`` exactly when some neighbouring pixel
   pair between them has both values ``>= c``; so each touching basin pair gets
   the level ``max min(v_p, v_q)`` over its pairs, and Kruskal over those levels
   (in plain Python: a few hundred edges for a CAM) gives the tree.
3. A basin's bounding box within ``{v >= c}`` for all c at once comes from its
   row and column maxima (one ``reduceat`` over runs of equal labels), and a
   node's box is the union over its basins (one ``reduceat`` over the basins
   laid out in depth-first order).

With ``outside=True`` an extra id stands for the image border (the frame
findContours puts around the image); a set joined to it stops being a node.
That gives the holes of the complementary binary map.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

SPAN = 257  # arrays over levels are indexed by c = 0..256 (the set {v >= c})

_KERNEL = {
    8: np.ones((3, 3), np.uint8),
    4: cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)),
}


@dataclass
class ComponentTree:
    """Node n is one component of ``{v >= c}`` for ``lo[n] < c <= hi[n]``.

    Its pixels are those of the basins at positions ``start[n] .. start[n] +
    size[n] − 1`` of a depth-first basin order. ``planes`` (4×257×m) holds
    each basin's box at each c as ``(x0, y0, −x1, −y1)`` in that order, so a
    node's box at c is a min over one contiguous run of each plane's row c.
    """

    planes: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    start: np.ndarray
    size: np.ndarray

    def alive(self, c_min: int, c_max: int) -> tuple[np.ndarray, np.ndarray]:
        """``(c, boxes)`` for every node alive at some c in ``c_min..c_max``: P and P×4 int64."""
        first = np.maximum(self.lo + 1, c_min)
        length = np.maximum(np.minimum(self.hi, c_max) - first + 1, 0)
        nodes = np.repeat(np.arange(self.lo.size), length)
        ends = np.cumsum(length)
        total = int(ends[-1]) if ends.size else 0
        c = first[nodes] + np.arange(total) - np.repeat(ends - length, length)
        if total == 0:
            return c, np.zeros((0, 4), np.int64)
        m = self.planes.shape[2]
        # One segment per (pair, coordinate) of the flat planes, reduced by one reduceat
        # over interleaved (start, stop) offsets. Segments go in decreasing offset order
        # so that each "stop → next start" step goes backwards and costs nothing.
        order = np.argsort(-(c * m + self.start[nodes]), kind="stable")
        c_sorted, nodes_sorted = c[order], nodes[order]
        starts = (np.arange(3, -1, -1)[:, None] * SPAN + c_sorted) * m + self.start[nodes_sorted]
        bounds = np.stack([starts, starts + self.size[nodes_sorted]], axis=-1)
        flat = np.append(self.planes.ravel(), 0)  # a spare element to stop at
        reduced = np.minimum.reduceat(flat, bounds.ravel())[::2].reshape(4, total)
        boxes = np.empty((total, 4), np.int64)
        boxes[order] = reduced[::-1].T
        boxes[:, 2:] *= -1
        return c, boxes


FINE_BITS = 20  # extra resolution of the ordering key below one uint8 step
_EXACT = float(1 << 52)  # keys are offset into [2^52, 2^53): their bits are the integer


@functools.lru_cache(maxsize=16)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-shape constants: 2^52 + pixel index (float64), pixel index (int32), index bits."""
    n = height * width
    bits = max(1, (n - 1).bit_length())
    if 8 + FINE_BITS + bits > 52:
        raise ValueError(f"a {height}x{width} map is too large for the component tree")
    base = np.arange(n, dtype=np.float64).reshape(height, width) + _EXACT
    ints = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    base.setflags(write=False)
    ints.setflags(write=False)
    return base, ints, bits


def basins(fine: np.ndarray, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    """Label each pixel with the local maximum its steepest-ascent pointers reach.

    ``fine``: H×W float64 holding integers below 2^28 that order the pixels
    like the map's uint8 values do (ties allowed): ``floor(255 · score · 2^20)``
    or ``uint8 · 2^20``. Each pixel points to the neighbour (or itself) of
    largest ``(fine, index)`` (one ``dilate``); pointer jumping finds the
    roots. A finer order than uint8 only avoids splitting plateaus of equal
    uint8 value into many basins (speed); every order gives the same tree.
    Returns the H×W int label image (0..m−1) and the m root pixels (flat).
    """
    height, width = fine.shape
    base, ints, bits = _grid(height, width)
    key = fine * float(1 << bits)
    key += base
    top = cv2.dilate(key, _KERNEL[connectivity])
    parent = (top.view(np.int64).ravel() & ((1 << bits) - 1)).astype(ints.dtype)
    jumped = np.empty_like(parent)
    while True:
        parent.take(parent, out=jumped, mode="clip")
        if np.array_equal(jumped, parent):
            break
        jumped.take(jumped, out=parent, mode="clip")
    roots = np.flatnonzero(parent == ints)
    rank = np.zeros(parent.size, dtype=ints.dtype)
    rank[roots] = np.arange(roots.size, dtype=ints.dtype)
    return rank.take(parent).reshape(height, width), roots


def _label_maxima(labels: np.ndarray, v: np.ndarray, m: int) -> np.ndarray:
    """H×m maximum of ``v`` per (row, label); −1 where a label has no pixel in a row."""
    height, width = labels.shape
    flat = labels.ravel()
    breaks = np.empty(flat.size, dtype=bool)
    breaks[0] = True
    np.not_equal(flat[1:], flat[:-1], out=breaks[1:])
    breaks[::width] = True
    starts = np.flatnonzero(breaks)
    out = np.full(height * m, -1, dtype=np.int64)
    cell = (starts // width) * m + flat[starts]
    np.maximum.at(out, cell, np.maximum.reduceat(v.ravel(), starts).astype(np.int64))
    return out.reshape(height, m)


def _first_last(projection: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
    """For every c in 0..256: first and last index i with ``projection[i] >= c``, per basin.

    ``projection``: L×m (−1 = absent); writes 257×m arrays ``first`` and
    ``last``, with L and −1 for "none", which keeps unions a plain min / max.
    """
    length, m = projection.shape
    offsets = np.arange(m, dtype=np.int64) * (SPAN + 1)

    def count_below(running: np.ndarray) -> np.ndarray:
        # #{i : running[i] < c} for c = 0..256: a histogram of running + 1, accumulated.
        hist = np.bincount((running + 1 + offsets).ravel(), minlength=m * (SPAN + 1))
        return hist.reshape(m, SPAN + 1).cumsum(axis=1)[:, :SPAN].T

    # Running maxima from the start and from the end (the order of the latter is irrelevant).
    np.copyto(first, count_below(np.maximum.accumulate(projection, axis=0)))
    below = count_below(np.maximum.accumulate(projection[::-1], axis=0))
    np.subtract(length - 1, below, out=last, casting="unsafe")


def basin_planes(labels: np.ndarray, v: np.ndarray, m: int, order: list[int]) -> np.ndarray:
    """4×257×m boxes ``(x0, y0, −x1, −y1)`` of each basin ∩ {v >= c}, basins in ``order``."""
    height, width = labels.shape
    rows = _label_maxima(labels, v, m)[:, order]
    cols = _label_maxima(np.ascontiguousarray(labels.T), np.ascontiguousarray(v.T), m)[:, order]
    planes = np.empty((4, SPAN, m), dtype=np.int32)
    _first_last(rows, planes[1], planes[3])
    _first_last(cols, planes[0], planes[2])
    np.negative(planes[2:], out=planes[2:])
    return planes


def basin_edges(labels: np.ndarray, v: np.ndarray, connectivity: int, m: int) -> np.ndarray:
    """E×3 ``(a, b, w)``: basins a < b touch, and w is the highest level where they do.

    A neighbouring pixel pair p, q from different basins links them in every
    set ``{v >= c}`` with ``c <= min(v_p, v_q)``.
    """
    width = labels.shape[1]
    flat, values = labels.ravel(), v.ravel()
    # Flat offset of each neighbour direction, and the column a pair cannot start in.
    directions = [(1, width - 1), (width, -1)]
    if connectivity == 8:
        directions += [(width + 1, width - 1), (width - 1, 0)]
    firsts, seconds = [], []
    for offset, bad_column in directions:
        first = np.flatnonzero(flat[:-offset] != flat[offset:])
        if bad_column >= 0 and first.size:
            first = first[first % width != bad_column]
        firsts.append(first)
        seconds.append(first + offset)
    p, q = np.concatenate(firsts), np.concatenate(seconds)
    if p.size == 0:
        return np.zeros((0, 3), dtype=np.int64)
    a, b = flat[p].astype(np.int64), flat[q].astype(np.int64)
    pair = np.minimum(a, b) * m + np.maximum(a, b)
    w = np.minimum(values[p], values[q]).astype(np.int64)
    if m <= 1024:  # a dense pair table: no sort
        best = np.full(m * m, -1, dtype=np.int64)
        np.maximum.at(best, pair, w)
        pair = np.flatnonzero(best >= 0)
        w = best[pair]
    else:
        code = np.sort(pair * 256 + w)
        last = np.ones(code.size, dtype=bool)  # the highest w of each pair comes last
        np.not_equal(code[1:] >> 8, code[:-1] >> 8, out=last[:-1])
        pair, w = code[last] >> 8, code[last] & 255
    return np.stack([pair // m, pair % m, w], axis=1)


def border_edges(labels: np.ndarray, v: np.ndarray, m: int) -> np.ndarray:
    """E×3 ``(basin, m, w)``: the basin reaches the image border in ``{v >= c}`` for c <= w."""
    ring_labels = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    ring_values = np.concatenate([v[0], v[-1], v[:, 0], v[:, -1]]).astype(np.int64)
    best = np.full(m, -1, dtype=np.int64)
    np.maximum.at(best, ring_labels, ring_values)
    touching = np.flatnonzero(best >= 0)
    return np.stack([touching, np.full(touching.size, m), best[touching]], axis=1)


def _kruskal(
    m: int, peaks: list[int], edges: np.ndarray, outside: bool
) -> tuple[list[int], list[int], list[tuple[int, int] | None]]:
    """Merge basins along edges by decreasing level; returns lo, hi and children per node."""
    parent = list(range(m + 1))
    node = list(range(m + 1))
    node[m] = -1  # the outside (used only when ``outside``)
    lo = [-1] * m
    hi = list(peaks)
    children: list[tuple[int, int] | None] = [None] * m
    for a, b, w in edges[np.argsort(-edges[:, 2], kind="stable")].tolist():
        while parent[a] != a:
            parent[a] = a = parent[parent[a]]
        while parent[b] != b:
            parent[b] = b = parent[parent[b]]
        if a == b:
            continue
        na, nb = node[a], node[b]
        parent[b] = a
        if na >= 0:
            lo[na] = w
        if nb >= 0:
            lo[nb] = w
        if na < 0 or nb < 0:
            node[a] = -1
            continue
        node[a] = len(lo)
        lo.append(-1)
        hi.append(w)
        children.append((na, nb))
    return lo, hi, children


def _depth_first(
    m: int, children: list[tuple[int, int] | None]
) -> tuple[list[int], list[int], list[int]]:
    """Basin order in which every node's basins are one block: order, block starts, sizes."""
    total = len(children)
    size = [1] * total
    top = [True] * total
    for n in range(m, total):
        left, right = children[n]  # type: ignore[misc]
        size[n] = size[left] + size[right]
        top[left] = top[right] = False
    start = [0] * total
    offset = 0
    for n in range(total):
        if top[n]:
            start[n] = offset
            offset += size[n]
    order = [0] * m
    for n in range(total - 1, -1, -1):  # parents are created after their children
        pair = children[n]
        if pair is None:
            order[start[n]] = n
        else:
            start[pair[0]] = start[n]
            start[pair[1]] = start[n] + size[pair[0]]
    return order, start, size


def component_tree(
    v: np.ndarray, connectivity: int, *, outside: bool = False, fine: np.ndarray | None = None
) -> ComponentTree:
    """The component tree of the sets ``{v >= c}`` of an H×W uint8 map (see module doc).

    With ``outside``, components that reach the image border are left out (and
    the work is skipped when no local maximum lies off the border). ``fine``
    is the ordering key of :func:`basins` (default: ``v · 2^20``; a finer one
    only makes it faster).
    """
    if fine is None:
        fine = v * float(1 << FINE_BITS)
    labels, roots = basins(fine, connectivity)
    m = roots.size
    empty = np.zeros(0, np.int64)
    if outside and not _any_interior(roots, v.shape):
        # A component that does not reach the border holds its maximum, a root off the border.
        return ComponentTree(np.zeros((4, SPAN, 0), np.int32), empty, empty, empty, empty)
    edges = basin_edges(labels, v, connectivity, m)
    if outside:
        edges = np.concatenate([edges, border_edges(labels, v, m)])
    lo, hi, children = _kruskal(m, v.ravel()[roots].tolist(), edges, outside)
    order, start, size = _depth_first(m, children)
    return ComponentTree(
        basin_planes(labels, v, m, order),
        np.asarray(lo, np.int64),
        np.asarray(hi, np.int64),
        np.asarray(start, np.int64),
        np.asarray(size, np.int64),
    )


def _any_interior(roots: np.ndarray, shape: tuple[int, int]) -> bool:
    height, width = shape
    rows, cols = np.divmod(roots, width)
    return bool(((rows > 0) & (rows < height - 1) & (cols > 0) & (cols < width - 1)).any())
