"""Keep a late feature map large: turn the one stride-2 convolution of a block into stride 1."""

from __future__ import annotations

from torch import nn


def remove_stride(block: nn.Module, where: str) -> str:
    """Set the single stride-2 ``Conv2d`` inside ``block`` to stride 1; return its name.

    The convolution keeps its kernel, padding and dilation, so with torchvision's
    "same" padding (``(k - 1) // 2``) the block then preserves the spatial size;
    pretrained weights still fit (a stride is not a parameter). ``where`` is the
    block's name in the backbone, used in the error when the block does not have
    exactly one strided convolution (a torchvision change this plugin must follow).
    """
    strided = [
        (name, m)
        for name, m in block.named_modules()
        if isinstance(m, nn.Conv2d) and m.stride != (1, 1)
    ]
    if len(strided) != 1:
        found = ", ".join(f"{n or '<self>'} {m.stride}" for n, m in strided) or "none"
        raise RuntimeError(
            f"expected exactly one strided Conv2d in '{where}' of torchvision's model, found "
            f"{found}; this torchvision version changed the architecture: report it to "
            "wsolkit-torchvision-extra."
        )
    name, conv = strided[0]
    conv.stride = (1, 1)
    return f"{where}.{name}"
