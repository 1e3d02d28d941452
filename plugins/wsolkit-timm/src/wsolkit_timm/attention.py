"""Reading the attention probabilities of timm's transformer blocks during a forward pass.

timm's ``Attention`` computes ``softmax(q·kᵀ/√d)`` explicitly only when its
``fused_attn`` flag is off (otherwise ``F.scaled_dot_product_attention`` never
materializes it), and then passes it to ``attn_drop``. :func:`recorded_attention`
switches the flag off on the given blocks, hooks ``attn_drop`` to keep its input —
the probabilities before attention dropout, as TS-CAM's ``Attention`` returns them
(``weights = attn`` before ``self.attn_drop(attn)``) — and restores both on exit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle


@contextlib.contextmanager
def recorded_attention(blocks: Iterable[nn.Module]) -> Iterator[list[Tensor]]:
    """While active, each forward pass appends every block's attention, in block order.

    Each entry is B×H×T×T (rows the queries). Fused attention is switched off on
    the blocks for the duration (slower and more memory on a GPU) and restored
    afterwards, as are the hooks, even on an exception.

    Raises:
        TypeError: a block has no timm ``attn`` module with ``fused_attn`` and ``attn_drop``.
    """
    recorded: list[Tensor] = []

    def keep(_module: nn.Module, inputs: tuple[Any, ...], _output: Any) -> None:
        recorded.append(inputs[0])

    saved: list[tuple[nn.Module, bool]] = []
    handles: list[RemovableHandle] = []
    try:
        for block in blocks:
            attn = getattr(block, "attn", None)
            if not hasattr(attn, "fused_attn") or not isinstance(
                getattr(attn, "attn_drop", None), nn.Module
            ):
                raise TypeError(
                    f"{type(block).__name__} has no timm attention module (attn.fused_attn, "
                    "attn.attn_drop): its attention probabilities cannot be read"
                )
            assert attn is not None
            saved.append((attn, bool(attn.fused_attn)))
            attn.fused_attn = False
            handles.append(attn.attn_drop.register_forward_hook(keep))
        yield recorded
    finally:
        for handle in handles:
            handle.remove()
        for attn, fused in saved:
            attn.fused_attn = fused
