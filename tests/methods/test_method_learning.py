"""End to end on a toy task: the tiny backbone learns from scratch and its CAM finds the object.

Runs for every built-in method (read from the registry, aliases dropped); the
bar each must clear is in ``MIN_HIT``.
"""

from __future__ import annotations

import pytest
import torch
from registry_builtins import assert_covers, builtin_names

from wsolkit.registry import backbones, methods

# Share of CAM peaks that must fall on the object. Aligned EIL, from scratch on this toy,
# pulls the CAM partly off the object (75% to 83% measured at seed 0), hence its lower bar;
# the others hit 100% at seed 0.
MIN_HIT = {
    "acol": 0.8,  # 97% measured at seed 0 (the predicted class erased: no labels passed)
    "adl": 0.8,
    "aligned-eil": 0.5,
    "cam": 0.8,
    "cutmix": 0.8,
    "eil": 0.8,
    "has": 0.8,
    "spg": 0.8,  # 100% measured at seed 0
}
COLOURS = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])


def toy_batch(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise images with one 12×12 square whose colour is the class; returns the square centres."""
    images = torch.randn(n, 3, 48, 48, generator=g) * 0.5
    labels = torch.randint(0, 4, (n,), generator=g)
    corners = torch.randint(0, 36, (n, 2), generator=g)
    for i in range(n):
        y, x = corners[i].tolist()
        images[i, :, y : y + 12, x : x + 12] = COLOURS[labels[i]][:, None, None]
    return images, labels, corners + 6


def test_min_hit_covers_the_registry() -> None:
    assert_covers(MIN_HIT, methods, "MIN_HIT in tests/methods/test_method_learning.py")


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_names(methods))
def test_tiny_learns_and_localizes(name: str) -> None:
    """60 steps at batch 32 (about 15 s for CAM on 2 cores).

    The CAM peak must fall within 8 px of the square's centre (chance: about
    13%) for a share ``MIN_HIT[name]`` of the images.
    """
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    method = methods.create(name)
    model = method.build(backbones.create("tiny", num_classes=4))
    opt = torch.optim.SGD(
        model.parameter_groups().optimizer_groups(0.05, 1.0), lr=0.05, momentum=0.9, nesterov=True
    )
    model.train()
    for step in range(60):
        images, labels, _ = toy_batch(32, g)
        images, targets = method.prepare_batch(images, labels, g)
        losses = method.losses(model(images), targets, epoch=step // 20, warm_epochs=1)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
    images, labels, centres = toy_batch(64, g)
    model.eval()
    with torch.inference_mode():
        result = model.cams(images, labels)
    accuracy = (result.logits.argmax(1) == labels).float().mean().item()
    cams = result.cams[:, 0]  # B×12×12 at stride 4
    peak = cams.flatten(1).argmax(1)
    peak_yx = torch.stack([peak // cams.shape[-1], peak % cams.shape[-1]], 1) * 4 + 2
    hit = ((peak_yx - centres).abs().max(dim=1).values <= 8).float().mean().item()
    assert accuracy > 0.9, accuracy
    assert hit > MIN_HIT[name], hit
