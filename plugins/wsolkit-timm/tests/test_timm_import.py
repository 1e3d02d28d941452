"""``wsolkit import-checkpoint --from ts-cam``: a TS-CAM checkpoint in, deit_small · ts-cam out.

The file is generated here as TS-CAM's ``tools_cam/train_cam.py`` saves it:
``{'epoch', 'state_dict', 'best_map'}`` from an ``nn.DataParallel`` model (every key
prefixed ``module.``), with the key names of its ``lib/models/deit.py: TSCAM``: timm's
``VisionTransformer`` names and ``head`` = ``nn.Conv2d(384, K, 3, 1, 1)``. The network
below is that layout, built from timm's ``VisionTransformer``.

wsolkit registers ``ts-cam`` in ``wsolkit.checkpoints.FORMATS`` only together with its
own tests' tables; until then the format is added here for the duration of each test.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor, nn
from typer.testing import CliRunner
from wsolkit.checkpoints import FORMATS, detect
from wsolkit.checkpoints.ts_cam import TS_CAM
from wsolkit.cli import app
from wsolkit.engine.checkpoint import read_checkpoint
from wsolkit.registry import backbones, methods

from wsolkit_timm.attention import recorded_attention
from wsolkit_timm.functional import ts_cam

runner = CliRunner()
K = 3


class TsCamLayout(VisionTransformer):
    """TS-CAM's DeiT-S: timm's ViT whose head is a 3×3 conv over the patch map, then GAP."""

    def __init__(self, num_classes: int) -> None:
        super().__init__(
            patch_size=16, embed_dim=384, depth=12, num_heads=6, mlp_ratio=4, qkv_bias=True,
            norm_layer=partial(nn.LayerNorm, eps=1e-6), num_classes=num_classes,
        )  # fmt: skip
        self.head = nn.Conv2d(384, num_classes, kernel_size=3, stride=1, padding=1)

    def class_maps(self, images: Tensor) -> Tensor:
        """B×K×14×14: the conv of the patch tokens after the final norm, as a 14×14 map."""
        patches = self.forward_features(images)[:, 1:]
        n, p, c = patches.shape
        side = int(p**0.5)
        return self.head(patches.reshape(n, side, side, c).permute(0, 3, 1, 2).contiguous())

    def forward(self, images: Tensor) -> Tensor:
        """Logits: the global average of the class maps."""
        return self.class_maps(images).mean(dim=(2, 3))


@pytest.fixture(autouse=True)
def ts_cam_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FORMATS, "ts-cam", TS_CAM)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TsCamLayout]:
    torch.manual_seed(0)
    net = TsCamLayout(K).eval()
    with torch.no_grad():
        for tensor in (net.cls_token, net.pos_embed, net.head.bias):
            tensor.normal_(0, 0.5)  # timm starts some of these at zero
    path = tmp_path_factory.mktemp("tscam") / "model_best.pth"
    state = {f"module.{key}": value for key, value in net.state_dict().items()}
    torch.save({"epoch": 12, "state_dict": state, "best_map": 91.5}, path)
    return path, net


def test_the_file_has_ts_cam_s_key_names(reference: tuple[Path, TsCamLayout]) -> None:
    saved = torch.load(reference[0], weights_only=True)
    keys = set(saved["state_dict"])
    assert set(saved) == {"epoch", "state_dict", "best_map"}
    literal = {
        "module.cls_token": (1, 1, 384),
        "module.pos_embed": (1, 197, 384),
        "module.patch_embed.proj.weight": (384, 3, 16, 16),
        "module.blocks.0.norm1.weight": (384,),
        "module.blocks.11.attn.qkv.weight": (1152, 384),
        "module.blocks.11.attn.proj.bias": (384,),
        "module.blocks.5.mlp.fc1.weight": (1536, 384),
        "module.blocks.5.mlp.fc2.weight": (384, 1536),
        "module.norm.bias": (384,),
        "module.head.weight": (K, 384, 3, 3),
        "module.head.bias": (K,),
    }
    for key, shape in literal.items():
        assert tuple(saved["state_dict"][key].shape) == shape, key
    assert len(keys) == 4 + 2 + 12 * 12 + 2  # tokens, patch embedding, 12 blocks, norm, head


def test_import_gives_ts_cam_s_logits_and_maps_then_eval_scores_them(
    reference: tuple[Path, TsCamLayout], tmp_path: Path
) -> None:
    from wsolkit.data.prepare.synthetic import prepare_synthetic

    src, net = reference
    data = tmp_path / "data"
    prepare_synthetic(data, seed=6, train=3, val=3, test=6, image_size=64, classes=K)
    out = tmp_path / "tscam.pt"
    args = ["import-checkpoint", str(src), "--backbone", "deit_small", "--method", "ts-cam"]
    args += ["--from", "ts-cam", "--data", str(data), "--out", str(out), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["format"], summary["num_classes"], summary["backbone"]) == (
        "ts-cam",
        K,
        "deit_small",
    )
    assert summary["mapping"] == ["head.* → backbone.head.conv.*", "* → backbone.*"]
    assert "removed 'module.' (DataParallel / DDP) from 152 key(s)" in summary["notes"]
    assert any("cam, ts-cam have the same weights" in note for note in summary["notes"])
    assert not any("feature-map sizes" in note for note in summary["notes"])  # one size only
    checkpoint = read_checkpoint(out)
    assert checkpoint.epoch == 12 and checkpoint.imported_from["format"] == "ts-cam"
    method = methods.create("ts-cam")
    model = method.build(backbones.create("deit_small", num_classes=K)).eval()
    model.load_state_dict(checkpoint.model, strict=True)
    images = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        result = method.cams(model, images, topk=K)
        with recorded_attention(net.blocks) as attentions:  # TS-CAM's network, its own pass
            class_maps = net.class_maps(images)
    # the same network, its tokens in another memory layout: float32 rounding apart
    torch.testing.assert_close(result.logits, class_maps.mean(dim=(2, 3)), rtol=1e-5, atol=1e-5)
    expected = ts_cam(attentions, class_maps[torch.arange(2)[:, None], result.classes])
    scale = float(expected.abs().max())
    torch.testing.assert_close(result.cams, expected, rtol=1e-4, atol=1e-5 * scale)
    # wsolkit's protocol scores its maps like a trained model's (synthetic data, 64 px)
    scored = runner.invoke(app, ["eval", str(out), "--json", "--device", "cpu"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["images"] == 6


def test_auto_detection_names_ts_cam(reference: tuple[Path, TsCamLayout]) -> None:
    container = torch.load(reference[0], weights_only=True)
    name, reason = detect(container)
    assert name == "ts-cam"
    assert "'epoch'" in reason and "deit_small / ts-cam|cam" in reason
