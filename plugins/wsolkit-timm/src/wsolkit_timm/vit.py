"""A timm vision transformer as a wsolkit backbone: token stages, a patch map, TS-CAM's head.

The network is timm's own (``timm.create_model(name, pretrained=False)``, never
downloaded), kept under timm's parameter names so that timm's, DeiT's and TS-CAM's
state dicts map onto it key for key: ``cls_token``, ``pos_embed``,
``patch_embed.proj.*``, ``blocks.<i>.*``, ``norm.*``; the head is new (``head.conv.*``).

| stage | computes | output | its map (``stage_map``) |
|---|---|---|---|
| ``patch_embed`` | 16×16 patches → tokens, class token, position embedding | B×(1+N)×C | B×C×h×w |
| ``blocks.0`` … ``blocks.{L-1}`` | one transformer block | B×(1+N)×C | B×C×h×w |
| ``norm`` | the final LayerNorm, then the patch tokens as a map (F) | B×C×h×w | itself |

h = w = input/16 (14 at 224 px): every stage has reduction 16 and C channels. The
stages pass tokens (the class token included) between them; ``stage_map`` gives the
score-map extractors the patch tokens of any stage as a map. The head is TS-CAM's
3×3 convolution to K class maps and their global average.

Inputs need a side divisible by 16; at another size than the pretrained one (224)
the position embedding is resampled bicubically, as timm's ``dynamic_img_size``.
There is one feature-map size: ``large_feature_map=True`` is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from wsolkit.backbones import Backbone, Head, StageInfo, WeightsError
from wsolkit.backbones.weights import imagenet_file, load_into, load_weights_file, parse_weights
from wsolkit.errors import SettingsError

from wsolkit_timm.attention import recorded_attention
from wsolkit_timm.functional import tokens_to_map
from wsolkit_timm.heads import ConvClassMapHead

NUM_PREFIX_TOKENS = 1  # the class token


class TokenEmbedding(nn.Module):
    """Stage ``patch_embed``: images → B×(1+N)×C tokens (a view of the backbone's modules).

    ``cat(cls_token, patch_embed(x)) + pos_embed``, then ``pos_drop``, as TS-CAM's
    ``forward_features`` and timm's ``_pos_embed``; ``pos_embed`` is resampled
    (bicubic, timm's ``resample_abs_pos_embed``) when the patch grid is not the
    pretrained one.
    """

    def __init__(
        self,
        patch_embed: nn.Module,
        cls_token: nn.Parameter,
        pos_embed: nn.Parameter,
        drop: nn.Module,
    ) -> None:
        super().__init__()
        self.patch_embed = patch_embed
        self.cls_token = cls_token
        self.pos_embed = pos_embed
        self.pos_drop = drop

    def forward(self, images: Tensor) -> Tensor:
        """B×3×H×W → B×(1 + H/16·W/16)×C."""
        patches = self.patch_embed(images)  # B×h×w×C (timm's NHWC output, dynamic size)
        grid = tuple(patches.shape[1:3])
        pos = self.pos_embed
        if grid != tuple(self.patch_embed.grid_size):
            from timm.layers import resample_abs_pos_embed

            pos = resample_abs_pos_embed(pos, list(grid), num_prefix_tokens=NUM_PREFIX_TOKENS)
        tokens = patches.flatten(1, 2)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return self.pos_drop(torch.cat((cls, tokens), dim=1) + pos)


class PatchMap(nn.Module):
    """Stage ``norm``: the final LayerNorm, then the patch tokens as the B×C×h×w map F."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, tokens: Tensor) -> Tensor:
        """B×(1+N)×C → B×C×h×w."""
        return tokens_to_map(self.norm(tokens), NUM_PREFIX_TOKENS)


def read_weights_file(path: Path) -> dict[str, Tensor]:
    """A state dict from ``path``: DeiT's ``{'model': state_dict}`` or a bare state dict.

    Read with ``torch.load(weights_only=True)`` on the CPU (no code in the file runs).

    Raises:
        WeightsError: the file cannot be read, or holds neither form (one line naming it).
    """
    obj = load_weights_file(path)
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]  # DeiT's release files (facebookresearch/deit)
    if isinstance(obj, Mapping) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        return dict(obj)
    keys = [str(k) for k in obj][:5] if isinstance(obj, Mapping) else []
    hint = (
        "; a TS-CAM checkpoint ({'epoch', 'state_dict', 'best_map'}) is imported with "
        "`wsolkit import-checkpoint FILE --from ts-cam`"
        if isinstance(obj, Mapping) and "state_dict" in obj
        else ""
    )
    raise WeightsError(
        f"weights file '{path}' is neither a state dict nor DeiT's {{'model': state dict}}"
        + (f" (its top-level keys: {keys})" if keys else "")
        + f"{hint}; save one with torch.save(model.state_dict(), path)."
    )


class VisionTransformerBackbone(Backbone):
    """A timm ViT with a class token: token stages, the patch map F, TS-CAM's 3×3-conv head.

    Subclasses set ``name``, ``description``, ``timm_name``, the architecture
    (``embed_dim``, ``depth``, ``num_heads``, ``patch_size``, ``img_size``: passed to
    ``timm.create_model``) and ``imagenet_url``.
    """

    supports_large_feature_map = False  # one feature-map size: the patch grid

    timm_name: ClassVar[str] = ""
    embed_dim: ClassVar[int] = 384
    depth: ClassVar[int] = 12
    num_heads: ClassVar[int] = 6
    patch_size: ClassVar[int] = 16
    img_size: ClassVar[int] = 224
    default_split_point = None  # erasing methods (EIL, aligned EIL, SPG) refuse it
    default_adl_positions = ()  # ADL (a channel-wise drop on CNN maps) refuses it

    def __init__(
        self,
        *,
        num_classes: int,
        large_feature_map: bool = False,
        weights: str | Path = "none",
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if large_feature_map:
            raise SettingsError(
                f"invalid setting model.large_feature_map = True: backbone '{self.display_name()}' "
                f"has one feature-map size, its {self.patch_size}×{self.patch_size} patches "
                f"({224 // self.patch_size}×{224 // self.patch_size} at 224 px); set it to false."
            )
        import timm

        self.num_classes, self.large_feature_map = num_classes, large_feature_map
        vit = timm.create_model(
            self.timm_name,
            pretrained=False,
            num_classes=0,
            img_size=self.img_size,
            patch_size=self.patch_size,
            embed_dim=self.embed_dim,
            depth=self.depth,
            num_heads=self.num_heads,
            drop_path_rate=drop_path_rate,
            dynamic_img_size=True,
        )
        self.drop_path_rate = drop_path_rate
        self.patch_embed = vit.patch_embed
        self.cls_token = vit.cls_token
        self.pos_embed = vit.pos_embed
        self.pos_drop = vit.pos_drop
        self.blocks = vit.blocks
        self.norm = vit.norm
        head = ConvClassMapHead(self.embed_dim, num_classes)
        self.finish_init(self.stage_table(large_feature_map), head, weights)

    def finish_init(self, stages: tuple[StageInfo, ...], head: Head, weights: str | Path) -> None:
        """Set the stages and the head and load ``weights``, without wsolkit's CNN initialization.

        The transformer keeps timm's initialization and the head PyTorch's default for
        a Conv2d, as in TS-CAM (its ``head.apply(self._init_weights)`` only touches
        Linear and LayerNorm modules).
        """
        self.stages = stages
        self.head = head
        self.loaded_keys: list[str] = []
        self.load_weights(weights)

    # -- stages ------------------------------------------------------------------------
    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """``patch_embed``, ``blocks.0`` … ``blocks.{depth-1}``, ``norm``: C channels, stride 16.

        The same table for ``large_feature_map`` (which the constructor refuses): a
        transformer has one resolution, its patch grid.
        """
        c, r = cls.embed_dim, cls.patch_size
        embed = StageInfo("patch_embed", c, r, ("patch_embed", "cls_token", "pos_embed"))
        blocks = tuple(StageInfo(f"blocks.{i}", c, r, (f"blocks.{i}",)) for i in range(cls.depth))
        return (embed, *blocks, StageInfo("norm", c, r, ("norm",)))

    def stage(self, name: str) -> nn.Module:
        """The module of stage ``name`` (views for ``patch_embed`` and ``norm``)."""
        self.stage_info(name)  # raises, listing the stages, for a bad name
        if name == "patch_embed":
            return TokenEmbedding(self.patch_embed, self.cls_token, self.pos_embed, self.pos_drop)
        if name == "norm":
            return PatchMap(self.norm)
        return self.get_submodule(name)

    def stage_map(self, name: str, output: Tensor) -> Tensor:
        """A stage's tokens (B×(1+N)×C) as the B×C×h×w map of its patch tokens; F as it is."""
        if output.dim() == 3:
            return tokens_to_map(output, NUM_PREFIX_TOKENS)
        return output

    @contextlib.contextmanager
    def recorded_attention(self) -> Iterator[list[Tensor]]:
        """While active, each forward pass appends every block's attention B×H×T×T, in order.

        The probabilities ``softmax(q·kᵀ/√d)`` before attention dropout; fused attention is
        off meanwhile (:func:`wsolkit_timm.attention.recorded_attention`).
        """
        with recorded_attention(self.blocks) as maps:
            yield maps

    # -- parameters and weights ---------------------------------------------------------
    def is_new_parameter(self, name: str, recipe: str) -> bool:
        """Only the head is new, under either recipe: the transformer is the pretrained trunk."""
        return name.startswith("head.")

    def no_weight_decay(self) -> set[str]:
        """Parameters timm (and TS-CAM's optimizer) exempt from weight decay."""
        return {"cls_token", "pos_embed"}

    def map_pretrained_key(self, key: str) -> str | None:
        """timm's / DeiT's keys are this backbone's; their linear classifiers are dropped.

        DeiT's ``head.weight`` / ``head.bias`` (1000 classes on the class token) and a
        distilled model's ``head_dist.*`` / ``dist_token`` are not part of it; a file saved
        from this backbone keeps its ``head.conv.*``.
        """
        if key.startswith("head.conv."):
            return key
        return None if key.startswith(("head.", "head_dist.")) or key == "dist_token" else key

    def load_weights(self, weights: str | Path) -> None:
        """``"imagenet"`` (the local torch cache only), a state-dict file, or ``"none"``.

        Files may be DeiT's ``{'model': state_dict}`` (its release files) or a bare
        state dict (timm's, or one saved from this backbone).
        """
        spec = parse_weights(weights)
        if spec.kind == "none":
            return
        path = (
            imagenet_file(self.display_name(), self.imagenet_url)
            if spec.kind == "imagenet"
            else spec.path
        )
        assert path is not None
        self.loaded_keys = load_into(
            self,
            read_weights_file(path),
            source=str(path),
            backbone=self.display_name(),
            required=self.pretrained_keys(),
            map_key=self.map_pretrained_key,
        )

    # -- description --------------------------------------------------------------------
    @classmethod
    def head_kind(cls) -> str:
        """TS-CAM's 3×3-conv class-map head."""
        return "class-map"

    @classmethod
    def plugin_details(cls) -> dict[str, Any]:
        """wsolkit's details, with the large feature map marked as refused."""
        details = super().plugin_details()
        details["stages_large_feature_map"] = None
        details["feature_map_at_224_large"] = None
        details["large_feature_map"] = "refused: one feature-map size (the patch grid)"
        details["timm_model"] = cls.timm_name
        details["attention_maps"] = True
        return details
