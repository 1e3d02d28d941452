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
3. A basin's bounding box within ``{v >= c}`` for all c at once comes from the
   runs of equal labels along rows and columns (one ``reduceat`` for their
   maxima): the running maximum of a basin's runs, top-down, is a staircase
   whose steps give y0 at every c (likewise y1, x0, x1), written into a
   4m×257 table with one ``repeat``. A node's box is the union over its
   basins, which are one block of a depth-first basin order (one ``reduceat``).

Pixel-sized work arrays are per-thread buffers reused from map to map
(:func:`scratch`): on Linux a fresh array costs a page fault per 4 KiB, which
was a fifth of the time of the whole sweep.

With ``outside=True`` an extra id stands for the image border (the frame
findContours puts around the image); a set joined to it stops being a node.
That gives the holes of the complementary binary map.
"""

from __future__ import annotations

import functools
import math
import threading
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
    size[n] − 1`` of a depth-first basin order. ``table`` (4m×257, flat, see
    :func:`_box_table`) holds each basin's box at each c.
    """

    lo: np.ndarray
    hi: np.ndarray
    start: np.ndarray
    size: np.ndarray
    table: np.ndarray

    def alive(self, c_min: int, c_max: int) -> tuple[np.ndarray, np.ndarray]:
        """``(c, boxes)`` for every node alive at some c in ``c_min..c_max``: P and P×4 int64."""
        first = np.maximum(self.lo + 1, c_min)
        length = np.maximum(np.minimum(self.hi, c_max) - first + 1, 0)
        nodes = np.repeat(np.arange(self.lo.size), length)
        ends = np.cumsum(length)
        total = int(ends[-1]) if ends.size else 0
        if total == 0:
            return np.zeros(0, np.int64), np.zeros((0, 4), np.int64)
        c = first[nodes] + np.arange(total) - np.repeat(ends - length, length)
        # One entry per (pair, basin of the node); a pair's basins are one segment.
        sizes = self.size[nodes]
        seg_ends = np.cumsum(sizes)
        seg_starts = seg_ends - sizes
        count = int(seg_ends[-1])
        m = self.table.size // (4 * SPAN)
        # Flat table index of (basin, c) in the y0 block; the others follow from it.
        index = scratch("alive_index", (4, count), np.int64)
        np.multiply(np.repeat(self.start[nodes] - seg_starts, sizes), SPAN, out=index[0])
        index[0] += np.arange(0, count * SPAN, SPAN)
        index[1] = np.repeat(c, sizes)
        np.subtract(index[1], index[0], out=index[3])
        index[0] += index[1]
        np.add(index[3], (2 * m - 1) * SPAN, out=index[1])  # −y1 of basin b: row 2m − 1 − b
        np.add(index[0], 2 * m * SPAN, out=index[2])
        index[3] += (4 * m - 1) * SPAN
        values = self.table.take(index, out=scratch("alive_values", (4, count), np.int32))
        reduced = np.minimum.reduceat(values, seg_starts, axis=1)
        boxes = np.empty((total, 4), np.int64)
        boxes[:, 0], boxes[:, 1] = reduced[2], reduced[0]
        np.negative(reduced[3], out=boxes[:, 2])
        np.negative(reduced[1], out=boxes[:, 3])
        return c, boxes


FINE_BITS = 20  # extra resolution of the ordering key below one uint8 step
_EXACT = float(1 << 52)  # keys are offset into [2^52, 2^53): their bits are the integer


FINE_TOP = float((256 << FINE_BITS) - 1)  # FINE_TOP − fine orders 255 − u as fine orders u


@functools.lru_cache(maxsize=16)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per-shape constants: key offsets (2^52 + pixel index, and that + FINE_TOP · 2^bits),
    pixel index (int64) and the index bits."""
    n = height * width
    bits = max(1, (n - 1).bit_length())
    if 8 + FINE_BITS + bits > 52:
        raise ValueError(f"a {height}x{width} map is too large for the component tree")
    base = np.arange(n, dtype=np.float64).reshape(height, width) + _EXACT
    flipped = base + FINE_TOP * float(1 << bits)
    ints = np.arange(n, dtype=np.int64)
    for constant in (base, flipped, ints):
        constant.setflags(write=False)
    return base, flipped, ints, bits


class _Scratch(threading.local):
    """Per-thread work buffers, reused from map to map (one per name, the last shape)."""

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}


_SCRATCH = _Scratch()


def scratch(name: str, shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """A reusable uninitialized C-contiguous buffer; valid until the next request of ``name``
    in this thread.

    Fresh pixel-sized arrays cost more than the work done in them (the kernel zeroes
    every new page), so the per-pixel passes write into buffers kept between maps;
    a buffer only grows (shapes vary with the number of basins).
    """
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    buffer = _SCRATCH.buffers.get(name)
    if buffer is None or buffer.dtype != dtype or buffer.size < count:
        buffer = _SCRATCH.buffers[name] = np.empty(max(count, 1), dtype)
    return buffer[:count].reshape(shape)


def basins(
    fine: np.ndarray, connectivity: int, *, flip: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Label each pixel with the local maximum its steepest-ascent pointers reach.

    ``fine``: H×W float64 holding integers below 2^28 that order the pixels
    like the map's uint8 values do (ties allowed): ``floor(255 · score · 2^20)``
    or ``uint8 · 2^20``; with ``flip`` the order is that of ``FINE_TOP − fine``
    (the map ``255 − u``). Each pixel points to the neighbour (or itself) of
    largest ``(key, index)`` (one ``dilate``); pointer jumping finds the
    roots. A finer order than uint8 only avoids splitting plateaus of equal
    uint8 value into many basins (speed); every order gives the same tree.
    Returns the H×W label image (0..m−1; uint8 or uint16 when m allows, a
    scratch buffer valid until the next call) and the m root pixels (flat).
    """
    height, width = fine.shape
    base, flipped, ints, bits = _grid(height, width)
    key = scratch("key", fine.shape, np.float64)
    np.multiply(fine, -float(1 << bits) if flip else float(1 << bits), out=key)
    key += flipped if flip else base
    top = cv2.dilate(key, _KERNEL[connectivity], dst=scratch("top", fine.shape, np.float64))
    parent = scratch("parent", (ints.size,), np.int64)
    np.bitwise_and(top.view(np.int64).ravel(), (1 << bits) - 1, out=parent)
    jumped = scratch("jumped", (ints.size,), np.int64)
    for _ in range(2):  # ascent paths are long: the first doublings need no check
        parent.take(parent, out=jumped, mode="wrap")
        jumped.take(jumped, out=parent, mode="wrap")
    while True:
        parent.take(parent, out=jumped, mode="wrap")
        if np.array_equal(jumped, parent):
            break
        jumped.take(jumped, out=parent, mode="wrap")
    roots = np.flatnonzero(np.equal(parent, ints, out=scratch("is_root", (ints.size,), bool)))
    dtype = np.uint8 if roots.size <= 256 else np.uint16 if roots.size <= 65536 else np.int64
    rank = scratch("rank", (ints.size,), dtype)  # only read at the roots
    rank[roots] = np.arange(roots.size, dtype=dtype)
    labels = scratch("labels", (ints.size,), dtype)
    rank.take(parent, out=labels, mode="wrap")
    return labels.reshape(height, width), roots


def _run_starts(labels: np.ndarray, name: str) -> np.ndarray:
    """Flat indices where a run of equal labels starts within its row (every row's 0 too)."""
    width = labels.shape[1]
    flat = labels.ravel()
    breaks = scratch(name, (flat.size,), bool)
    breaks[0] = True
    np.not_equal(flat[1:], flat[:-1], out=breaks[1:])
    breaks[::width] = True
    return np.flatnonzero(breaks)


def _runs(
    labels: np.ndarray, v: np.ndarray, position: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Maximal runs of one label along each row: ``(row, basin position, max of v)`` per run.

    ``starts``: from :func:`_run_starts`. The runs come sorted by basin position, then
    row (a stable radix sort), which is the order :func:`_box_table` reads them in.
    """
    basin = position.take(labels.ravel().take(starts))
    by_basin = np.argsort(basin, kind="stable")
    peak = np.maximum.reduceat(v.ravel(), starts)
    return (starts // labels.shape[1])[by_basin], basin[by_basin], peak[by_basin]


def _box_table(
    rows: tuple[np.ndarray, ...], cols: tuple[np.ndarray, ...], m: int, shape: tuple[int, int]
) -> np.ndarray:
    """Flat 4m×257 int32: row k·m + j holds, for every level c, one box side of a basin.

    ``rows`` / ``cols``: :func:`_runs` of the image and of its transpose. Rows
    0..m−1: y0 of basin j ∩ {v >= c} (H when empty); m..2m−1: −y1 of basin
    m − 1 − j (1 when empty); 2m..3m−1: x0 (W); 3m..4m−1: −x1 of basin m − 1 − j.
    Each is "the line of the first run with value >= c" in the right order: the
    running maxima of a basin's runs form a staircase, written with one
    repeat of its steps.
    """
    height, width = shape
    (line_r, basin_r, value_r), (line_c, basin_c, value_c) = rows, cols
    basin_r, basin_c = basin_r.astype(np.int32), basin_c.astype(np.int32)
    group = np.concatenate(
        [basin_r, 2 * m - 1 - basin_r[::-1], 2 * m + basin_c, 4 * m - 1 - basin_c[::-1]]
    )
    value = np.concatenate([value_r, value_r[::-1], value_c, value_c[::-1]])
    payload = np.concatenate([line_r, -line_r[::-1], line_c, -line_c[::-1]]).astype(np.int32)
    groups = 4 * m  # every group has at least one run
    running = np.maximum.accumulate(group * 256 + value)
    step = np.empty(running.size, dtype=bool)
    step[0] = True
    np.greater(running[1:], running[:-1], out=step[1:])
    at = np.flatnonzero(step)  # a new running maximum of its group
    rec_group, rec_value = group.take(at), value.take(at).astype(np.int32)
    new_group = np.empty(at.size, dtype=bool)
    new_group[0] = True
    np.not_equal(rec_group[1:], rec_group[:-1], out=new_group[1:])
    previous = np.empty_like(rec_value)
    previous[0] = -1
    previous[1:] = rec_value[:-1]
    previous[new_group] = -1
    last = np.flatnonzero(np.append(new_group[1:], True))  # each group's last step
    # Segments in flat order: a group's steps, then its "empty" tail.
    slots = np.arange(at.size) + rec_group
    tails = last + np.arange(1, groups + 1)
    begin = np.empty(at.size + groups, dtype=np.int64)
    begin[slots] = rec_group.astype(np.int64) * SPAN + previous + 1
    begin[tails] = np.arange(groups, dtype=np.int64) * SPAN + rec_value.take(last) + 1
    level = np.empty(at.size + groups, dtype=np.int32)
    level[slots] = payload.take(at)
    level[tails] = np.repeat(np.array([height, 1, width, 1], np.int32), m)
    return np.repeat(level, np.diff(begin, append=groups * SPAN))


def _transposed(a: np.ndarray, name: str) -> np.ndarray:
    """``a.T`` as a C-contiguous scratch buffer."""
    out = scratch(name, a.shape[::-1], a.dtype)
    if a.dtype.itemsize <= 4:
        return cv2.transpose(a, dst=out)
    np.copyto(out, a.T)
    return out


def basin_edges(
    labels: np.ndarray, v: np.ndarray, connectivity: int, m: int, starts: tuple[np.ndarray, ...]
) -> np.ndarray:
    """E×3 ``(a, b, w)``: basins a < b touch, and w is the highest level where they do.

    A neighbouring pixel pair p, q from different basins links them in every
    set ``{v >= c}`` with ``c <= min(v_p, v_q)``. ``starts``: the run starts of
    ``labels`` and of its transpose (:func:`_run_starts`), which are the
    horizontal and vertical pairs already.
    """
    height, width = labels.shape
    flat, values = labels.ravel(), v.ravel()
    along_rows, along_cols = starts
    q_rows = along_rows[along_rows % width != 0]
    q_cols = along_cols[along_cols % height != 0]
    q_cols = (q_cols % height) * width + q_cols // height  # back to the untransposed index
    firsts, seconds = [q_rows - 1, q_cols - width], [q_rows, q_cols]
    if connectivity == 8 and width > 1:  # a single column has no diagonal pairs
        differ = scratch("differ", (flat.size,), bool)
        # Diagonal offsets, and the column a pair cannot start in.
        for offset, bad_column in ((width + 1, width - 1), (width - 1, 0)):
            first = np.flatnonzero(
                np.not_equal(flat[:-offset], flat[offset:], out=differ[:-offset])
            )
            first = first[first % width != bad_column]
            firsts.append(first)
            seconds.append(first + offset)
    p, q = np.concatenate(firsts), np.concatenate(seconds)
    if p.size == 0:
        return np.zeros((0, 3), dtype=np.int64)
    a, b = flat.take(p).astype(np.int64), flat.take(q).astype(np.int64)
    pair = np.minimum(a, b) * m + np.maximum(a, b)
    w = np.minimum(values.take(p), values.take(q)).astype(np.int16)
    if m <= 512:  # a dense pair table: no sort
        best = scratch("pair_table", (m * m,), np.int16)
        best.fill(-1)
        np.maximum.at(best, pair, w)
        pair = np.flatnonzero(best >= 0)
        w = best.take(pair).astype(np.int64)
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
    v: np.ndarray,
    connectivity: int,
    *,
    outside: bool = False,
    fine: np.ndarray | None = None,
    flip: bool = False,
) -> ComponentTree:
    """The component tree of the sets ``{v >= c}`` of an H×W uint8 map (see module doc).

    With ``outside``, components that reach the image border are left out (and
    the work is skipped when no local maximum lies off the border). ``fine``
    and ``flip`` give the ordering key of :func:`basins` (default: ``v · 2^20``;
    a finer one only makes it faster; with ``flip``, ``FINE_TOP − fine`` must
    order the pixels like ``v``).
    """
    if fine is None:
        fine, flip = v * float(1 << FINE_BITS), False
    labels, roots = basins(fine, connectivity, flip=flip)
    m = roots.size
    if outside and not _any_interior(roots, v.shape):
        # A component that does not reach the border holds its maximum, a root off the border.
        return _tree([], [], [], [], np.zeros(0, np.int32))
    labels_t, v_t = _transposed(labels, "labels_t"), _transposed(v, "v_t")
    starts = _run_starts(labels, "breaks"), _run_starts(labels_t, "breaks_t")
    edges = basin_edges(labels, v, connectivity, m, starts)
    if outside:
        edges = np.concatenate([edges, border_edges(labels, v, m)])
    lo, hi, children = _kruskal(m, v.ravel()[roots].tolist(), edges, outside)
    order, start, size = _depth_first(m, children)
    position = np.empty(m, dtype=np.int16 if m < 2**15 else np.int32)
    position[np.asarray(order, dtype=np.int64)] = np.arange(m, dtype=position.dtype)
    rows = _runs(labels, v, position, starts[0])
    cols = _runs(labels_t, v_t, position, starts[1])
    return _tree(lo, hi, start, size, _box_table(rows, cols, m, v.shape))


def _tree(lo: list, hi: list, start: list, size: list, table: np.ndarray) -> ComponentTree:
    arrays = (np.asarray(x, np.int64) for x in (lo, hi, start, size))
    return ComponentTree(*arrays, table=table)


def _any_interior(roots: np.ndarray, shape: tuple[int, int]) -> bool:
    height, width = shape
    rows, cols = np.divmod(roots, width)
    return bool(((rows > 0) & (rows < height - 1) & (cols > 0) & (cols < width - 1)).any())
