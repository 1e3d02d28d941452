"""Image transforms of the WSOL protocol (SPEC.md §2.1 and §3), built from DataSettings.

- train: ``Resize((resize, resize))`` (PIL bilinear) → ``RandomCrop(crop)`` →
  ``RandomHorizontalFlip()`` (when ``hflip``) → ``ToTensor()`` → ``Normalize(mean, std)``
- eval: ``Resize((size, size))`` (no crop) → ``ToTensor()`` → ``Normalize(mean, std)``

The loaders run the geometric part in their workers and hand over **uint8** tensors
``3×H×W`` (a quarter of the bytes of float32 through the worker queue and the
host-to-device copy); :class:`BatchNormalize` then does ``ToTensor``'s scaling and
``Normalize`` on the device, on the whole batch, with the same float32 operations in the
same order, so the batch is bit for bit the float path's (``output="float"`` builds that
path, for comparison and for callers that want normalized tensors per image)::

    dataset = source.torch_dataset("train")      # uint8 images
    normalize = BatchNormalize.from_settings(settings.data)
    for batch in loader:
        images = normalize(batch.images.to(device))  # float32, normalized
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

from wsolkit.errors import SettingsError
from wsolkit.settings.models import DataSettings

Transform = Callable[[Any], Any]
Output = Literal["uint8", "float"]


def _check_sizes(data: DataSettings) -> None:
    if data.crop_size > data.resize_size:
        raise SettingsError(
            f"data.crop_size={data.crop_size} is larger than data.resize_size={data.resize_size}; "
            "the random crop must fit in the resized image"
        )


def train_resize(data: DataSettings) -> Transform:
    """The deterministic first step of the training transform (what the resize cache keeps)."""
    from torchvision import transforms as T

    _check_sizes(data)
    size = (data.resize_size, data.resize_size)
    return T.Resize(size, interpolation=T.InterpolationMode.BILINEAR)


def train_augment(data: DataSettings) -> Transform:
    """The random part of the training transform: crop, then the optional flip.

    It takes a PIL image or a uint8 ``3×H×W`` tensor and draws the same random numbers
    (torch's generator) for both, so a cached resized tensor is cropped and flipped
    exactly as the PIL image would be.
    """
    from torchvision import transforms as T

    steps: list[Any] = [T.RandomCrop(data.crop_size)]
    if data.hflip:
        steps.append(T.RandomHorizontalFlip())
    return T.Compose(steps)


def _to_tensor(output: Output, data: DataSettings) -> list[Any]:
    from torchvision import transforms as T

    if output == "uint8":
        return [T.PILToTensor()]
    return [T.ToTensor(), T.Normalize(list(data.mean), list(data.std))]


def train_transform(data: DataSettings, output: Output = "uint8") -> Transform:
    """The training transform: square resize, random crop, optional flip, then a uint8
    tensor (normalized later by :class:`BatchNormalize`) or, with ``output="float"``, the
    normalized float32 tensor."""
    from torchvision import transforms as T

    return T.Compose([train_resize(data), train_augment(data), *_to_tensor(output, data)])


def eval_transform(
    data: DataSettings, eval_size: int | None = None, output: Output = "uint8"
) -> Transform:
    """The evaluation transform: resize to ``eval_size`` (default ``data.eval_size``), then a
    uint8 tensor or, with ``output="float"``, the normalized float32 tensor."""
    from torchvision import transforms as T

    size = eval_size if eval_size is not None else data.eval_size
    resize = T.Resize((size, size), interpolation=T.InterpolationMode.BILINEAR)
    return T.Compose([resize, *_to_tensor(output, data)])


def uint8_chw(array: Any) -> torch.Tensor:
    """An ``H×W×3`` uint8 array (e.g. a row of the resize cache) as a ``3×H×W`` tensor."""
    import numpy as np

    tensor = torch.from_numpy(np.array(array, dtype=np.uint8, copy=True))
    return tensor.permute(2, 0, 1).contiguous()


class BatchNormalize:
    """``ToTensor`` + ``Normalize`` for a batch of uint8 images, where the batch lives.

    ``images.float() / 255``, then ``- mean`` and ``/ std`` per channel: the operations
    of torchvision's ``ToTensor`` and ``Normalize`` in their order and dtype (float32), so
    each element is the float path's to the bit on any device. A float batch is refused:
    it was normalized already (or never was a uint8 image), and normalizing twice would
    silently corrupt every number.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
        self._on: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_settings(cls, data: DataSettings) -> BatchNormalize:
        return cls(data.mean, data.std)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(
                f"BatchNormalize takes uint8 images (the loaders' output), got {images.dtype}"
            )
        mean, std = self._on.get(images.device) or self._move(images.device)
        out = images.to(torch.float32).div_(255)
        return out.sub_(mean).div_(std)

    def _move(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        pair = (self.mean.to(device), self.std.to(device))
        self._on[device] = pair
        return pair
