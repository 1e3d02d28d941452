"""Method models train under DistributedDataParallel (CPU, gloo, one process).

Every built-in method, read from the registry (aliases dropped).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from registry_builtins import builtin_names
from torch.nn.parallel import DistributedDataParallel

from wsolkit.registry import backbones, methods


@pytest.fixture
def process_group(tmp_path: Path) -> Iterator[None]:
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("name", builtin_names(methods))
def test_three_steps_without_unused_parameters(name: str, process_group: None) -> None:
    """``find_unused_parameters=False``: every parameter must get its gradient in every step."""
    torch.manual_seed(0)
    method = methods.create(name)
    model = method.build(backbones.create("tiny", num_classes=4)).train()
    ddp = DistributedDataParallel(model, find_unused_parameters=False)
    opt = torch.optim.SGD(model.parameter_groups().optimizer_groups(0.05, 1.0), lr=0.05)
    for epoch in range(3):  # epoch 0 is a warm-up epoch for aligned EIL
        images, labels = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
        images, targets = method.prepare_batch(images, labels)
        losses = method.losses(ddp(images), targets, epoch=epoch, warm_epochs=1)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
    ddp.eval()
    with torch.no_grad():
        out = ddp(images)
        cams = method.cams(ddp, images, labels)
    assert set(out) == {"logits", "features"} and cams.cams.shape == (4, 1, 8, 8)
