"""Image transforms of the WSOL protocol (SPEC.md §2.1 and §3), built from DataSettings.

- train: ``Resize((resize, resize))`` (PIL bilinear) → ``RandomCrop(crop)`` →
  ``RandomHorizontalFlip()`` (when ``hflip``) → ``ToTensor()`` → ``Normalize(mean, std)``
- eval: ``Resize((size, size))`` (no crop) → ``ToTensor()`` → ``Normalize(mean, std)``

Both take an RGB PIL image and return a float32 tensor ``3×H×W``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsolkit.errors import SettingsError
from wsolkit.settings.models import DataSettings

Transform = Callable[[Any], Any]


def train_transform(data: DataSettings) -> Transform:
    """The training transform: square resize, random crop, optional flip, normalization."""
    from torchvision import transforms as T

    if data.crop_size > data.resize_size:
        raise SettingsError(
            f"data.crop_size={data.crop_size} is larger than data.resize_size={data.resize_size}; "
            "the random crop must fit in the resized image"
        )
    steps: list[Any] = [
        T.Resize((data.resize_size, data.resize_size), interpolation=T.InterpolationMode.BILINEAR),
        T.RandomCrop(data.crop_size),
    ]
    if data.hflip:
        steps.append(T.RandomHorizontalFlip())
    steps += [T.ToTensor(), T.Normalize(list(data.mean), list(data.std))]
    return T.Compose(steps)


def eval_transform(data: DataSettings, eval_size: int | None = None) -> Transform:
    """The evaluation transform: resize to ``eval_size`` (default ``data.eval_size``), normalize."""
    from torchvision import transforms as T

    size = eval_size if eval_size is not None else data.eval_size
    return T.Compose(
        [
            T.Resize((size, size), interpolation=T.InterpolationMode.BILINEAR),
            T.ToTensor(),
            T.Normalize(list(data.mean), list(data.std)),
        ]
    )
