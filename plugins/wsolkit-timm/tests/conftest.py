"""Small vision transformers for the tests: timm's DeiT code at a size a CPU runs quickly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wsolkit.engine.device import torch_threads

pytest.importorskip("timm", reason="install the plugin: pip install -e plugins/wsolkit-timm")
pytest.importorskip(
    "wsolkit_timm", reason="install the plugin: pip install -e plugins/wsolkit-timm"
)

from wsolkit_timm.deit import DeiTSmall  # noqa: E402


class TinyDeiT(DeiTSmall):
    """deit_small's 12 blocks and stages at 32 channels, 2 heads, pretrained grid 4×4 (64 px)."""

    name = "tiny_deit"
    description = "DeiT-S layout at 32 channels, 2 heads, 64 px (tests)."
    embed_dim = 32
    num_heads = 2
    img_size = 64
    imagenet_url = None


class ToyViT(DeiTSmall):
    """Two blocks, 16 channels, 4 heads, 64 px: small enough to compute TS-CAM by hand."""

    name = "toy_vit"
    description = "Two DeiT blocks at 16 channels, 4 heads, 64 px (tests)."
    embed_dim = 16
    depth = 2
    num_heads = 4
    img_size = 64
    imagenet_url = None


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Every test here runs on one intra-op thread and restores the count afterwards.

    Measured on a shared 2-core CPU, one thread runs these transformers (DeiT-S at 224 px
    included) 3–8× faster than two, whose barriers wait on the other jobs' cores.
    """
    with torch_threads(1):
        yield


@pytest.fixture
def tiny_deit() -> type[DeiTSmall]:
    """:class:`TinyDeiT`."""
    return TinyDeiT


@pytest.fixture
def toy_vit() -> type[DeiTSmall]:
    """:class:`ToyViT`."""
    return ToyViT
