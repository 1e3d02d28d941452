"""Pixel average precision (PxAP) for mask datasets, streaming (SPEC.md §2.8).

Per image, the FLOAT scores of foreground and background pixels are
histogrammed over the bin edges ``[0, bw, 2bw, …, 1 − bw, 1, 2, 3]``; the
state is those two histograms, merged by addition.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import cv2
import numpy as np

from wsolkit.data.metadata import SplitMetadata
from wsolkit.errors import DataError
from wsolkit.metrics.boxes import cam_thresholds
from wsolkit.metrics.evaluator import check_in_unit_range
from wsolkit.metrics.results import MaskResult
from wsolkit.settings.protocol import EvalProtocol

if TYPE_CHECKING:
    from wsolkit.metrics.split import ScoredBatch


def pxap_bin_edges(cam_curve_interval: float) -> np.ndarray:
    """``numpy.arange(0, 1, bw)`` followed by 1, 2, 3: the canonical histogram edges."""
    return np.append(cam_thresholds(cam_curve_interval), [1.0, 2.0, 3.0])


def score_histogram(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``numpy.histogram(scores, bins=edges)[0]`` for scores in [0, 3], without sorting.

    Bins are ``[e_i, e_{i+1})`` and the last one is closed, exactly as numpy's.
    The bin is first guessed from the (almost uniform) edges, then corrected
    against the exact edges, so values on an edge land where numpy puts them.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    bins = edges.size - 1  # the sweep's n bins below 1, then [1, 2) and [2, 3]
    step = float(edges[1] - edges[0])
    guess = np.minimum((scores / step).astype(np.int64), bins - 2)
    guess -= scores < edges[guess]  # the guess is off by at most one bin
    guess += scores >= edges[guess + 1]
    guess[scores == edges[-1]] = bins - 1  # numpy's last bin is closed
    return np.bincount(guess, minlength=bins)[:bins]


def load_mask(path: Path, size: int) -> np.ndarray:
    """A mask file as a size×size boolean: grayscale, float32, nearest resize, ``> 0.5``."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DataError(f"{path}: mask file is missing or not a readable image")
    mask = cv2.resize(np.float32(image), (size, size), interpolation=cv2.INTER_NEAREST)
    return mask > 0.5


def ground_truth_mask(
    mask_root: Path, mask_paths: Sequence[str], ignore_path: str | None, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Foreground (union of the instance masks) and ignore (ignore mask minus foreground)."""
    foreground = np.zeros((size, size), dtype=bool)
    for relative in mask_paths:
        foreground |= load_mask(Path(mask_root) / relative, size)
    if ignore_path:
        ignore = load_mask(Path(mask_root) / ignore_path, size) & ~foreground
    else:
        ignore = np.zeros_like(foreground)
    return foreground, ignore


def pxap_from_histograms(
    positive: np.ndarray, negative: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """PxAP (percent), precision and recall from the two score histograms (canonical order).

    TP / FP are cumulative sums of the reversed histograms, FN = positives − TP;
    PxAP = 100 · Σ_{i≥1} precision[i] · (recall[i] − recall[i−1]) over i with TP + FP ≠ 0.
    """
    positive = positive.astype(np.float64)
    negative = negative.astype(np.float64)
    tp = positive[::-1].cumsum()
    fn = positive.sum() - tp
    fp = negative[::-1].cumsum()
    if ((tp + fn) <= 0).all():
        raise DataError("no foreground pixel in the masks of this split: PxAP is undefined")
    if ((tp + fp) <= 0).all():
        raise DataError("no pixel has a score in range: PxAP is undefined")
    non_zero = (tp + fp) != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
    auc = (precision[1:] * np.diff(recall))[non_zero[1:]].sum()
    return float(auc * 100), precision, recall


def mask_histograms(
    scoremap: np.ndarray, foreground: np.ndarray, ignore: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Histograms of the foreground scores and of the (not ignored) background scores."""
    background = ~(foreground | ignore)
    return score_histogram(scoremap[foreground], edges), score_histogram(
        scoremap[background], edges
    )


class MaskEvaluator:
    """PxAP over a mask split, streaming; the report field it fills is ``mask``.

    ``mask_root``: the folder the mask paths of the metadata are relative to
    (wsolkit does not append ``OpenImages/`` to it, unlike the canonical script).
    """

    field: ClassVar[str] = "mask"

    def __init__(
        self,
        metadata: SplitMetadata,
        protocol: EvalProtocol | None = None,
        *,
        mask_root: Path | str,
    ) -> None:
        if metadata.masks is None:
            raise DataError(
                f"{metadata.folder or 'the split'} has no masks; PxAP needs mask lines in "
                "localization.txt (or mask_localization.txt)"
            )
        protocol = protocol or EvalProtocol()
        self.metadata = metadata
        self.protocol = protocol
        self.mask_root = Path(mask_root)
        self.eval_size = protocol.eval_size
        self.cam_curve_interval = protocol.cam_curve_interval
        self.edges = pxap_bin_edges(self.cam_curve_interval)
        self.reset()

    @classmethod
    def applies(cls, metadata: SplitMetadata, mask_root: Path | None) -> bool:
        """A split with masks whose mask folder is known."""
        return metadata.masks is not None and mask_root is not None

    @classmethod
    def for_split(
        cls, metadata: SplitMetadata, protocol: EvalProtocol, mask_root: Path | None
    ) -> MaskEvaluator:
        """The evaluator of ``metadata`` under ``protocol``, masks read below ``mask_root``."""
        assert mask_root is not None
        return cls(metadata, protocol, mask_root=mask_root)

    def accumulate_batch(self, batch: ScoredBatch) -> None:
        """Add every map of a batch."""
        for scoremap, image_id in zip(batch.scoremaps, batch.image_ids, strict=True):
            self.accumulate(scoremap, image_id)

    def reset(self) -> None:
        """Forget every accumulated image."""
        bins = self.edges.size - 1
        self._state = {
            "positive": np.zeros(bins, dtype=np.int64),
            "negative": np.zeros(bins, dtype=np.int64),
            "images": np.int64(0),
        }

    def accumulate(self, scoremap: np.ndarray, image_id: str) -> None:
        """Add one image's score map (eval_size², float in [0, 1])."""
        annotation = (self.metadata.masks or {}).get(image_id)
        if annotation is None:
            raise DataError(f"image id '{image_id}' has no mask in {self.metadata.folder}")
        check_in_unit_range(scoremap, image_id, self.eval_size)
        foreground, ignore = ground_truth_mask(
            self.mask_root, annotation.mask_paths, annotation.ignore_path, self.eval_size
        )
        positive, negative = mask_histograms(scoremap, foreground, ignore, self.edges)
        self.merge_state({"positive": positive, "negative": negative, "images": np.int64(1)})

    def state(self) -> dict[str, np.ndarray]:
        """The two histograms and the image count (copies), to sum across processes."""
        return {key: np.array(value, copy=True) for key, value in self._state.items()}

    def merge_state(self, state: dict[str, np.ndarray]) -> None:
        """Add another shard's histograms."""
        for key, value in state.items():
            if np.shape(value) != np.shape(self._state[key]):
                raise ValueError(f"cannot merge '{key}': the shards used different intervals")
            self._state[key] = self._state[key] + np.asarray(value, dtype=np.int64)

    def compute(self) -> MaskResult:
        """PxAP and the precision-recall curve over every image accumulated so far."""
        images = int(self._state["images"])
        if images == 0:
            raise DataError("no score map was accumulated: nothing to evaluate")
        pxap, precision, recall = pxap_from_histograms(
            self._state["positive"], self._state["negative"]
        )
        return MaskResult(
            pxap=pxap,
            precision=precision,
            recall=recall,
            thresholds=self.edges,
            images=images,
            cam_curve_interval=self.cam_curve_interval,
            positive=self._state["positive"].copy(),
            negative=self._state["negative"].copy(),
        )
