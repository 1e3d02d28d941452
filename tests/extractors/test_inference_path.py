"""The extractors' inference path is every built-in method's: ``head(forward_stages(x))``.

Extractors read a stage's activations with ``backbone.forward_stages(x, through=stage)``
and the logits with ``backbone.head(backbone.forward_stages(A, after=stage))``. In eval
mode that must equal ``model.infer(x)`` for every method (ADL's layers are the identity
there; ACoL and SPG truncate the backbone and install their own head), at every stage.
"""

from __future__ import annotations

import pytest
import torch
from registry_builtins import builtin_names

from wsolkit.registry import backbones, methods


@pytest.mark.parametrize("name", builtin_names(methods))
def test_head_of_the_stages_is_the_eval_forward(name: str) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = methods.create(name).build(backbones.create("tiny", num_classes=4)).eval()
        x = torch.randn(2, 3, 32, 32)
    bb = model.backbone
    with torch.inference_mode():
        expected = model.infer(x)[0]
        torch.testing.assert_close(bb.head(bb.forward_stages(x)), expected, rtol=0, atol=0)
        for stage in bb.stage_names:
            acts = bb.forward_stages(x, through=stage)
            logits = bb.head(bb.forward_stages(acts, after=stage))
            torch.testing.assert_close(logits, expected, rtol=0, atol=0, msg=f"stage {stage}")
