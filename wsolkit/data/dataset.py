"""The torch ``Dataset`` over one metadata split: ``(image tensor, label, image id)``.

Images are read with PIL and converted to 8-bit RGB by the rules of
:mod:`wsolkit.data.images` (16-bit and float images scaled, alpha dropped, CMYK
converted). An unreadable, corrupt or too large image raises
:class:`~wsolkit.data.images.ImageReadError` naming the file; with
``skip_bad_images`` the dataset returns a :class:`BadImage` marker instead,
which :func:`collate_skip_bad` drops from the batch and reports in
``Batch.skipped`` (collation runs in the loader's worker processes, so the
batch is the only way back to the trainer; :class:`SkippedImages` counts them
there)::

    loader = DataLoader(dataset, batch_size=64, collate_fn=collate_skip_bad)
    skipped = SkippedImages()
    for batch in loader:
        skipped.add(batch)
        if not batch.image_ids:
            continue  # every image of this batch was unreadable
        logits = model(batch.images)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.utils.data import Dataset

from wsolkit.data.images import BadImage, ImageReadError, load_rgb
from wsolkit.data.metadata import SplitMetadata
from wsolkit.errors import DataError

__all__ = [
    "BadImage",
    "Batch",
    "ImageReadError",
    "SkippedImages",
    "WSOLDataset",
    "collate_skip_bad",
    "load_rgb",
]

log = logging.getLogger(__name__)


class Batch(NamedTuple):
    """A collated batch: ``images`` B×3×H×W (uint8 from the protocol's transforms, see
    :mod:`wsolkit.data.transforms`), ``labels`` B int64, ids, skipped images."""

    images: torch.Tensor
    labels: torch.Tensor
    image_ids: list[str]
    skipped: list[BadImage]


class WSOLDataset(Dataset):
    """Images of one split with their labels, in metadata order (or the order of ``ids``).

    ``transform`` maps an RGB PIL image to a tensor (see :mod:`wsolkit.data.transforms`);
    ``None`` gives the plain ``ToTensor`` image in [0, 1]. ``ids`` restricts the
    dataset to a subset (e.g. ``metadata.proxy_ids``). ``cache_images`` keeps every
    decoded image in memory after its first read (for small datasets such as the
    synthetic benchmark: each process holds its own copy).
    """

    def __init__(
        self,
        metadata: SplitMetadata,
        image_root: Path,
        transform: Callable[[Any], torch.Tensor] | None,
        *,
        ids: Sequence[str] | None = None,
        skip_bad_images: bool = False,
        cache_images: bool = False,
    ) -> None:
        self.metadata = metadata
        self.resized: Any = None  # see use_resized()
        self.augment: Callable[[Any], torch.Tensor] | None = None
        self._cache: dict[str, Any] | None = {} if cache_images else None
        self.image_root = Path(image_root)
        self.transform = transform
        self.skip_bad_images = skip_bad_images
        self.image_ids = list(metadata.image_ids if ids is None else ids)
        unknown = [i for i in self.image_ids if i not in metadata.labels]
        if unknown:
            where = metadata.folder if metadata.folder is not None else "the split"
            raise DataError(
                f"{len(unknown)} requested image id(s) are not in {where}, e.g. '{unknown[0]}'"
            )

    def use_resized(self, resized: Any, augment: Callable[[Any], torch.Tensor]) -> None:
        """Read row ``i`` of ``resized`` (a :class:`~wsolkit.data.resize_cache.ResizedImages`
        in this dataset's id order) as item ``i``'s resized image, and apply ``augment``
        (the transform's steps after the resize) to it, instead of decoding the file."""
        if len(resized) != len(self.image_ids):
            raise ValueError(f"{len(resized)} cached images for {len(self.image_ids)} ids")
        self.resized, self.augment = resized, augment

    def __len__(self) -> int:
        return len(self.image_ids)

    def label(self, index: int) -> int:
        """The label of item ``index`` without reading the image."""
        return self.metadata.labels[self.image_ids[index]]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, str] | BadImage:
        image_id = self.image_ids[index]
        if self.resized is not None and self.augment is not None:
            from wsolkit.data.transforms import uint8_chw

            tensor = self.augment(uint8_chw(self.resized[index]))
            return tensor, self.metadata.labels[image_id], image_id
        path = self.image_root / image_id
        try:
            image = self._cache.get(image_id) if self._cache is not None else None
            if image is None:
                image = load_rgb(path)
                if self._cache is not None:
                    self._cache[image_id] = image
        except ImageReadError as exc:
            if not self.skip_bad_images:
                raise
            log.warning("skipping unreadable image %s", path)
            return BadImage(image_id, str(path), exc.reason)
        if self.transform is None:
            from torchvision.transforms.functional import to_tensor

            tensor = to_tensor(image)
        else:
            tensor = self.transform(image)
        return tensor, self.metadata.labels[image_id], image_id


def collate_skip_bad(samples: Sequence[tuple[torch.Tensor, int, str] | BadImage]) -> Batch:
    """Stack the good samples into a :class:`Batch`; :class:`BadImage` markers go to ``skipped``.

    A batch whose images were all unreadable has ``images`` of shape ``0×0`` and no ids.
    """
    good = [s for s in samples if not isinstance(s, BadImage)]
    skipped = [s for s in samples if isinstance(s, BadImage)]
    if not good:
        return Batch(torch.empty(0, 0), torch.empty(0, dtype=torch.long), [], skipped)
    images = torch.stack([s[0] for s in good])
    labels = torch.tensor([s[1] for s in good], dtype=torch.long)
    return Batch(images, labels, [s[2] for s in good], skipped)


class SkippedImages:
    """Unreadable images seen by the trainer (each counted once, however many epochs)."""

    def __init__(self) -> None:
        self.images: dict[str, BadImage] = {}

    def add(self, batch: Batch) -> list[BadImage]:
        """Record the skipped images of ``batch``; returns the ones not seen before."""
        new = [b for b in batch.skipped if b.image_id not in self.images]
        for bad in new:
            self.images[bad.image_id] = bad
        return new

    @property
    def count(self) -> int:
        """How many distinct images were skipped."""
        return len(self.images)
