"""The ``synthetic-pretrained`` weights of ``tiny``: a pretext task on synthetic images.

Every WSOL result on real data starts from an ImageNet trunk, and the premise of
aligned EIL (object regions with a large feature norm whose direction is not the
class weight's) is a property of such pretrained features. This module gives the
tiny network the same start on the synthetic benchmark: it trains ``tiny``'s
convolutions (conv1–conv6) on a pretext task over synthetic images drawn from a
seed no benchmark split uses, then keeps them and drops the pretext classifiers,
as ImageNet pretraining drops its classifier. conv6 is kept too, so the final
feature map F starts pretrained, as ResNet50's layer4 does in the WSOL recipes
(``--keep conv4`` keeps only the layers a VGG16 takes from ImageNet; on the val
split it gave aligned EIL less, see the README's synthetic section).

The pretext task asks, from the globally pooled F, for four attributes of the
object that the image-level WSOL label does not give:

- ``angle``: the direction from the body's centre to the head, in 8 bins of 45°
  (the features must find both the body's axis and which end carries the head);
- ``period``: the stripe period of the body, in 3 bins over [4, 7) px;
- ``body_hue``: the body's hue, in 8 bins (colour information is kept);
- ``head_hue``: the head's hue, in 5 coarse bins (two classes share a bin).

The loss is the sum of the four cross-entropies. Training is fully determined by
:class:`PretextConfig`: the images are drawn from ``SeedSequence(image_seed)``'s
children, torch runs on the CPU with a fixed number of threads, and the file is
written with fixed bytes, so the same config and torch build remake the same
file::

    python -m wsolkit.engine.pretext --out tiny-synthetic-pretrained.pt

(about 2 minutes on 2 CPU cores). The shipped file, ``wsolkit/backbones/files/``,
is the output of exactly that command; :data:`wsolkit.backbones.tiny.SHIPPED_SHA256`
is its hash.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from wsolkit.backbones.tiny import Tiny
from wsolkit.data.prepare.synthetic_draw import BodyLatents, render_sample
from wsolkit.data.transforms import BatchNormalize
from wsolkit.engine.device import torch_threads
from wsolkit.errors import WsolkitError
from wsolkit.io import atomic_write_bytes

# Benchmark splits use seeds 1000·d + 1/2/3; this one is never of that form.
DEFAULT_IMAGE_SEED = 999_999
TASKS: dict[str, int] = {"angle": 8, "period": 3, "body_hue": 8, "head_hue": 5}
PERIOD_RANGE = (4.0, 7.0)
KEEP = ("conv4", "conv6")


@dataclass(frozen=True)
class PretextConfig:
    """Everything that decides the pretext weights (the command line prints it)."""

    images: int = 8000
    epochs: int = 12
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-4
    image_seed: int = DEFAULT_IMAGE_SEED
    init_seed: int = 0
    image_size: int = 64
    classes: int = 10
    threads: int = 2
    tasks: tuple[str, ...] = tuple(TASKS)
    keep: str = "conv6"  # the last stage kept: "conv6" (F itself) or "conv4" (the trunk only)

    def validate(self) -> PretextConfig:
        """Refuse values that cannot train (one line naming the value)."""
        if self.keep not in KEEP:
            raise WsolkitError(f"pretext keep={self.keep!r}: choose one of {', '.join(KEEP)}")
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise WsolkitError(
                f"pretext tasks {list(self.tasks)}: choose one or more of {', '.join(TASKS)}"
            )
        for name in ("images", "epochs", "batch_size", "threads", "image_size", "classes"):
            if getattr(self, name) < 1:
                raise WsolkitError(f"pretext {name} must be at least 1, got {getattr(self, name)}")
        return self


def pretext_targets(latents: BodyLatents, tasks: tuple[str, ...]) -> list[int]:
    """The class of each pretext task for one sample's :class:`BodyLatents`."""
    values = {
        "angle": latents.angle / (2 * math.pi),
        "period": (latents.stripe_period - PERIOD_RANGE[0]) / (PERIOD_RANGE[1] - PERIOD_RANGE[0]),
        "body_hue": latents.body_hue,
        # Centre the coarse bins on the class hues (k/10): bin j holds hues of classes 2j, 2j+1.
        "head_hue": (latents.head_hue + 0.05) % 1.0,
    }
    return [min(int(values[t] * TASKS[t]), TASKS[t] - 1) for t in tasks]


def render_pretext_set(config: PretextConfig) -> tuple[Tensor, Tensor]:
    """The pretext images (N×3×S×S uint8) and targets (N×T int64), drawn deterministically."""
    images = np.empty((config.images, config.image_size, config.image_size, 3), np.uint8)
    targets = np.empty((config.images, len(config.tasks)), np.int64)
    root = np.random.SeedSequence(config.image_seed)
    for index in range(config.images):
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(root.entropy, spawn_key=(index,)))
        )
        label = int(rng.integers(config.classes))
        sample = render_sample(rng, label, size=config.image_size, classes=config.classes)
        images[index] = sample.image
        targets[index] = pretext_targets(sample.latents, config.tasks)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(targets)


class PretextNet(nn.Module):
    """``tiny``'s conv1–conv4, its conv6 (or, with ``keep="conv4"``, a separate conv 64→64 +
    ReLU that is dropped), GAP and one linear layer per task."""

    def __init__(self, config: PretextConfig) -> None:
        super().__init__()
        self.keep = config.keep
        self.tiny = Tiny(num_classes=1)  # its head is not used, nor conv6 when keeping conv4
        # Made in both modes: it draws from the random stream, so the bytes depend on it.
        self.conv = nn.Sequential(nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU())
        nn.init.kaiming_normal_(self.conv[0].weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.conv[0].bias)
        if self.keep == "conv6":  # tiny's own conv6 is the pretext conv
            self.conv = self.tiny.conv6
        self.heads = nn.ModuleList(nn.Linear(64, TASKS[t]) for t in config.tasks)

    def forward(self, x: Tensor) -> list[Tensor]:
        pooled = self.conv(self.tiny.forward_stages(x, through="conv4")).mean(dim=(2, 3))
        return [head(pooled) for head in self.heads]


#: uint8 → the synthetic recipes' input, ``(x/255 − 0.5)/0.25``.
NORMALIZE = BatchNormalize(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def trunk_state(net: PretextNet) -> dict[str, Tensor]:
    """The kept weights: ``tiny``'s conv1 … ``keep`` (with BN statistics), by ``tiny``'s keys."""
    keep = ("conv1.", "conv2.", "conv3.", "conv4.") + (("conv6.",) if net.keep == "conv6" else ())
    return {
        k: v.detach().clone().contiguous()
        for k, v in net.tiny.state_dict().items()
        if k.startswith(keep)
    }


def train_pretext(
    config: PretextConfig,
    *,
    progress: Callable[[int, float, list[float]], None] | None = None,
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """Train the pretext network; return the trunk's state dict and the final accuracies.

    ``progress(epoch, mean loss, per-task train accuracy)`` is called after each epoch.
    """
    config.validate()
    with torch_threads(config.threads):
        images, targets = render_pretext_set(config)
        torch.manual_seed(config.init_seed)
        net = PretextNet(config)
        optimizer = torch.optim.SGD(
            net.parameters(),
            lr=config.lr,
            momentum=0.9,
            nesterov=True,
            weight_decay=config.weight_decay,
        )
        steps = math.ceil(config.images / config.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=steps * config.epochs, pct_start=0.15
        )
        order = torch.Generator().manual_seed(config.init_seed)
        loss_fn = nn.CrossEntropyLoss()
        accuracy: list[float] = []
        for epoch in range(config.epochs):
            net.train()
            permutation = torch.randperm(config.images, generator=order)
            total, correct = 0.0, torch.zeros(len(config.tasks))
            for start in range(0, config.images, config.batch_size):
                index = permutation[start : start + config.batch_size]
                logits = net(NORMALIZE(images[index]))
                y = targets[index]
                loss = sum(loss_fn(out, y[:, t]) for t, out in enumerate(logits))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[union-attr]
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(index)
                correct += torch.stack(
                    [(out.argmax(1) == y[:, t]).sum() for t, out in enumerate(logits)]
                ).float()
            accuracy = (100.0 * correct / config.images).tolist()
            if progress is not None:
                progress(epoch + 1, total / config.images, accuracy)
        return trunk_state(net), dict(zip(config.tasks, accuracy, strict=True))


def encode_state(state: dict[str, Tensor]) -> bytes:
    """``torch.save`` bytes of ``state`` (keys sorted): the same tensors give the same bytes."""
    import io

    buffer = io.BytesIO()
    torch.save({k: state[k] for k in sorted(state)}, buffer)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Remake the trunk file (``--out``) and print its SHA-256."""
    defaults = PretextConfig()
    parser = argparse.ArgumentParser(
        prog="python -m wsolkit.engine.pretext",
        description="Train tiny's convolutions on the synthetic pretext task and write their "
        "weights. The defaults make the shipped synthetic-pretrained file, byte for byte.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="the .pt file to write")
    parser.add_argument("--images", type=int, default=defaults.images, help="pretext images")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="training epochs")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="one-cycle peak lr")
    parser.add_argument(
        "--image-seed", type=int, default=defaults.image_seed, help="seed of the images"
    )
    parser.add_argument(
        "--init-seed", type=int, default=defaults.init_seed, help="seed of init and order"
    )
    parser.add_argument(
        "--threads", type=int, default=defaults.threads, help="torch threads (bytes depend on it)"
    )
    parser.add_argument("--keep", default=defaults.keep, choices=KEEP, help="last stage kept")
    parser.add_argument(
        "--tasks", default=",".join(defaults.tasks), help=f"comma-separated, of {', '.join(TASKS)}"
    )
    args = parser.parse_args(argv)
    config = PretextConfig(
        images=args.images,
        epochs=args.epochs,
        lr=args.lr,
        image_seed=args.image_seed,
        init_seed=args.init_seed,
        threads=args.threads,
        keep=args.keep,
        tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()),
    )
    try:
        config.validate()
    except WsolkitError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2

    def report(epoch: int, loss: float, accuracy: list[float]) -> None:
        cells = " ".join(f"{t} {a:5.1f}%" for t, a in zip(config.tasks, accuracy, strict=True))
        sys.stdout.write(f"epoch {epoch:3d}/{config.epochs}  loss {loss:.4f}  {cells}\n")
        sys.stdout.flush()

    try:
        state, _ = train_pretext(config, progress=report)
        data = encode_state(state)
        atomic_write_bytes(args.out, data)
    except WsolkitError as exc:  # e.g. a full disk or an unwritable folder
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"interrupted; {args.out} was not written\n")
        return 130
    sys.stdout.write(f"wrote {args.out} ({len(data)} bytes), sha256 {sha256(data)}\n")
    sys.stdout.write(f"config: {asdict(config)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
