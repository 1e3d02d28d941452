"""The backbone interface every built-in and third-party backbone implements.

A backbone is an ``nn.Module`` whose trunk is cut into ordered, NAMED STAGES
(like timm's ``feature_info``) followed by a :class:`~wsolkit.backbones.heads.Head`:

- ``stages``: one :class:`StageInfo` per stage (output channels, reduction
  w.r.t. the input, the modules it holds); ``stage(name)`` returns the stage's
  module and ``forward_stages(x, after=, through=)`` runs a range of stages, so
  a method can split the network into f1/f2 or insert layers between stages.
- ``split_point``: the stage after which f1 ends for erasing methods (EIL,
  aligned EIL), ``adl_positions``: the stages after which ADL sits.
- ``head``: GAP + linear (``LinearHead``) or class-map convolution
  (``ClassMapHead``); the final feature map is the last stage's output.
- ``parameter_groups(recipe)``: which parameters are pretrained vs new, for the
  optimizer's two learning rates (SPEC.md §3).
- ``weights``: ``"none"``, ``"imagenet"`` (local torch cache only) or a path.
- ``trunk_end``, ``acol_layout()``, ``spg_layout()``, ``truncate()``: where ACoL's
  and SPG's branches replace the head (:mod:`~wsolkit.backbones.variants`).

See docs/backbone-interface.md for a worked example of a third-party backbone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from torch import Tensor, nn

from wsolkit.backbones.heads import ClassMapHead, Head
from wsolkit.backbones.variants import AcolLayout, InitMode, SpgLayout
from wsolkit.backbones.weights import (
    NamedWeights,
    imagenet_file,
    load_into,
    parse_weights,
    read_state_dict,
    verified_file,
)
from wsolkit.errors import SettingsError

GroupRecipe = Literal["bridging-gap", "wsolevaluation"]
GROUP_RECIPES: tuple[str, ...] = ("bridging-gap", "wsolevaluation")


@dataclass(frozen=True)
class StageInfo:
    """One named stage of a trunk: its output channels and total stride (reduction)."""

    name: str
    channels: int
    reduction: int
    modules: tuple[str, ...] = ()

    def size_at(self, input_size: int) -> int:
        """Nominal side of this stage's output for a square input (``input_size // reduction``)."""
        return input_size // self.reduction


@dataclass(frozen=True)
class ParameterGroups:
    """Parameters split into the pretrained trunk and the new layers, with their names."""

    pretrained: list[tuple[str, nn.Parameter]] = field(default_factory=list)
    new: list[tuple[str, nn.Parameter]] = field(default_factory=list)

    def optimizer_groups(self, lr: float, classifier_ratio: float) -> list[dict[str, Any]]:
        """``[{params, lr}, {params, lr × classifier_ratio}]`` for ``torch.optim.SGD``."""
        return [
            {"params": [p for _, p in self.pretrained], "lr": lr, "name": "pretrained"},
            {"params": [p for _, p in self.new], "lr": lr * classifier_ratio, "name": "new"},
        ]


def initialize_weights(modules: Iterator[nn.Module], mode: InitMode) -> None:
    """SPEC.md §3 initialization, run on all modules before pretrained weights are loaded.

    Conv2d: ``kaiming_normal_(fan_out, relu)`` ("he") or ``xavier_uniform_``
    ("xavier"), bias 0; BatchNorm2d: weight 1, bias 0; Linear: N(0, 0.01), bias 0.
    """
    for m in modules:
        if isinstance(m, nn.Conv2d):
            if mode == "he":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


class Backbone(nn.Module):
    """Base class of backbone plugins: named stages, a head, parameter groups, weights.

    Subclasses set the class attributes, build their modules, then call
    ``self.finish_init(stages, head, weights)`` at the end of ``__init__`` (which
    initializes every module and loads the weights). They implement
    ``stage(name)`` and ``is_new_parameter(name, recipe)``; a subclass whose
    pretrained files use other key names overrides ``map_pretrained_key``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    init_mode: ClassVar[InitMode] = "he"
    imagenet_url: ClassVar[str | None] = None
    default_split_point: ClassVar[str | None] = None
    default_adl_positions: ClassVar[tuple[str, ...]] = ()
    adl_replaces_dropout: ClassVar[bool] = False
    #: False for a backbone with one feature-map size (a vision transformer's patch grid):
    #: its constructor refuses ``large_feature_map=True`` with a ``SettingsError``.
    supports_large_feature_map: ClassVar[bool] = True

    num_classes: int
    large_feature_map: bool
    stages: tuple[StageInfo, ...]
    head: Head

    # -- construction ------------------------------------------------------------
    def finish_init(self, stages: tuple[StageInfo, ...], head: Head, weights: str | Path) -> None:
        """The last call of a subclass's ``__init__``: set stages and head, initialize, load."""
        self.stages = stages
        self.head = head
        initialize_weights(self.modules(), self.init_mode)
        self.loaded_keys: list[str] = []
        self.load_weights(weights)

    # -- stages ------------------------------------------------------------------
    @property
    def stage_names(self) -> tuple[str, ...]:
        """The stage names, in order."""
        return tuple(s.name for s in self.stages)

    @property
    def split_point(self) -> str | None:
        """The stage after which f1 ends for erasing methods (None: no standard split)."""
        return self.default_split_point

    @property
    def adl_positions(self) -> tuple[str, ...]:
        """The stages after which ADL layers sit (SPEC.md §4)."""
        return self.default_adl_positions

    @property
    def feature_channels(self) -> int:
        """Channels of the final feature map (the head's input)."""
        return self.stages[-1].channels

    @property
    def feature_reduction(self) -> int:
        """Total stride of the final feature map (16: 14×14 at 224; 8: 28×28)."""
        return self.stages[-1].reduction

    def stage_info(self, name: str) -> StageInfo:
        """The :class:`StageInfo` of stage ``name``."""
        return self.stages[self._index(name)]

    @classmethod
    def display_name(cls) -> str:
        """The registered name (``name``) or, failing that, the class name."""
        return cls.name or cls.__name__

    def _index(self, name: str) -> int:
        names = self.stage_names
        if name not in names:
            raise SettingsError(
                f"backbone '{self.display_name()}' has no stage '{name}'; "
                f"its stages are: {', '.join(names)}."
            )
        return names.index(name)

    def stage(self, name: str) -> nn.Module:
        """The module that computes stage ``name`` from the previous stage's output."""
        raise NotImplementedError

    def forward_stages(
        self, x: Tensor, *, after: str | None = None, through: str | None = None
    ) -> Tensor:
        """Run the stages strictly after ``after`` up to and including ``through``.

        ``forward_stages(x, through=s)`` is f1 of a split at ``s`` and
        ``forward_stages(f, after=s)`` its f2; no arguments run the whole trunk.
        """
        start = 0 if after is None else self._index(after) + 1
        stop = len(self.stages) if through is None else self._index(through) + 1
        for info in self.stages[start:stop]:
            x = self.stage(info.name)(x)
        return x

    def stage_map(self, name: str, output: Tensor) -> Tensor:
        """Stage ``name``'s ``output`` as the B×C×h×w map that score-map extractors read.

        The identity by default: a CNN's stages output maps. A backbone whose stages
        pass something else between them (a vision transformer's B×(1+N)×C tokens)
        returns the map here (its patch tokens as B×C×h×w). It must only select and
        rearrange entries of ``output`` (no arithmetic): the extractors apply it to the
        gradient with respect to ``output`` too, which is then the gradient with
        respect to the map.
        """
        return output

    def forward_features(self, x: Tensor) -> Tensor:
        """The final feature map F (B×C×h×w), input of the head."""
        return self.forward_stages(x)

    def forward(self, x: Tensor) -> Tensor:
        """Logits: ``head(forward_features(x))``."""
        return self.head(self.forward_features(x))

    # -- ACoL and SPG -------------------------------------------------------------
    @property
    def trunk_end(self) -> str:
        """The last stage of the trunk: every later stage holds only new layers (conv6 …).

        A stage counts as new when it has parameters and all of them are new under
        the ``bridging-gap`` recipe; with no such trailing stage it is the last stage.
        """
        named = self.named_parameters()
        new = {id(p) for n, p in named if self.is_new_parameter(n, "bridging-gap")}
        for info in reversed(self.stages):
            params = list(self.stage(info.name).parameters())
            if not params or not all(id(p) in new for p in params):
                return info.name
        return self.stages[-1].name

    def acol_layout(self) -> AcolLayout:
        """Where ACoL's classifiers sit: by default on ``trunk_end``, 1024 wide (wsolevaluation)."""
        return AcolLayout(trunk_end=self.trunk_end, width=1024, init_mode=self.init_mode)

    def spg_layout(self) -> SpgLayout | None:
        """Where SPG's branches sit; None if the backbone cannot host SPG.

        By default SPG-B1 reads the split point's output and SPG-B2 that of
        ``trunk_end`` (or the split point, if later); the main branch is the whole
        backbone, its head replaced by SPG's class-map convolution (after the
        class-map head's dropout, if it has one). Without a split point: None.
        """
        split = self.split_point
        if split is None or split not in self.stage_names[:-1]:
            return None
        end = self.trunk_end
        b2 = end if self._index(end) >= self._index(split) else split
        dropout = self.head.dropout.p if isinstance(self.head, ClassMapHead) else 0.0
        return SpgLayout(b1_after=split, b2_after=b2, dropout=dropout, init_mode=self.init_mode)

    def truncate(self, through: str, head: Head) -> None:
        """Keep the stages up to and including ``through``, remove the rest, install ``head``.

        The child modules that hold only parameters of the removed stages are deleted
        (VGG16's ``conv6``, InceptionV3's ``conv6``/``conv7``), so that every remaining
        parameter is used; ``head`` then reads ``through``'s output. ACoL and SPG call
        this in ``build``; the backbone is theirs from then on.

        Raises:
            ValueError: if a removed stage shares a child module with a kept one.
        """
        keep = self._index(through) + 1
        removed = {id(p) for s in self.stages[keep:] for p in self.stage(s.name).parameters()}
        for name, child in list(self.named_children()):
            params = list(child.parameters())
            if name != "head" and params and all(id(p) in removed for p in params):
                delattr(self, name)
        left = [n for n, p in self.named_parameters() if id(p) in removed]
        if left:
            raise ValueError(
                f"backbone '{self.display_name()}': the stages after '{through}' share modules "
                f"with earlier ones ({', '.join(left[:5])}); they cannot be removed"
            )
        self.stages = self.stages[:keep]
        self.head = head

    # -- parameter groups --------------------------------------------------------
    def is_new_parameter(self, name: str, recipe: GroupRecipe) -> bool:
        """Whether parameter ``name`` gets the classifier learning rate under ``recipe``."""
        raise NotImplementedError

    def parameter_groups(self, recipe: GroupRecipe = "bridging-gap") -> ParameterGroups:
        """Split parameters into pretrained and new (``optim.classifier_groups``)."""
        if recipe not in GROUP_RECIPES:
            raise SettingsError(
                f"invalid setting optim.classifier_groups = {recipe!r}: "
                f"use one of {', '.join(GROUP_RECIPES)}."
            )
        groups = ParameterGroups()
        for name, param in self.named_parameters():
            (groups.new if self.is_new_parameter(name, recipe) else groups.pretrained).append(
                (name, param)
            )
        return groups

    # -- weights -----------------------------------------------------------------
    def pretrained_keys(self) -> set[str]:
        """State-dict keys a pretrained file must provide: the trunk's parameters and buffers."""
        new = {n for n, _ in self.named_parameters() if self.is_new_parameter(n, "bridging-gap")}
        new_modules = {n.rsplit(".", 1)[0] for n in new}
        keys = set()
        for key in self.state_dict():
            if key in new or key.rsplit(".", 1)[0] in new_modules:
                continue
            keys.add(key)
        return keys

    def map_pretrained_key(self, key: str) -> str | None:
        """This backbone's key for a key of a pretrained file (None: not part of it)."""
        return key

    @classmethod
    def named_weights(cls) -> Mapping[str, NamedWeights]:
        """Weights shipped inside the package, by the name that ``weights`` selects them with."""
        return {}

    def load_weights(self, weights: str | Path) -> None:
        """Load ``"imagenet"`` (local torch cache), shipped weights by name, a state-dict file,
        or nothing (``"none"``)."""
        named = self.named_weights()
        spec = parse_weights(weights, named)
        if spec.kind == "none":
            return
        if spec.kind == "imagenet":
            path = imagenet_file(self.display_name(), self.imagenet_url)
        elif spec.kind == "named":
            path = verified_file(spec.name, self.display_name(), named[spec.name])
        else:
            path = spec.path
        assert path is not None
        state = read_state_dict(path)
        self.loaded_keys = load_into(
            self,
            state,
            source=str(path),
            backbone=self.display_name(),
            required=self.pretrained_keys(),
            map_key=self.map_pretrained_key,
        )

    def set_dropout(self, p: float) -> None:
        """Set the probability of every ``nn.Dropout`` in the backbone (head included)."""
        for m in self.modules():
            if isinstance(m, nn.Dropout):
                m.p = p

    # -- description -------------------------------------------------------------
    @classmethod
    def stage_table(cls, large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        """The stages without building the network (for listings)."""
        raise NotImplementedError

    @classmethod
    def head_kind(cls) -> str:
        """ "linear" or "class-map"."""
        return "linear"

    @classmethod
    def plugin_details(cls) -> dict[str, Any]:
        """What ``wsolkit list backbones --json`` shows."""
        details: dict[str, Any] = {
            "head": cls.head_kind(),
            "split_point": cls.default_split_point,
            "adl_positions": list(cls.default_adl_positions),
            "imagenet_weights": None if cls.imagenet_url is None else cls.imagenet_url,
            "named_weights": {
                name: {"description": w.description, "sha256": w.sha256}
                for name, w in cls.named_weights().items()
            },
        }
        for large in (False, True):
            table = cls.stage_table(large)
            key = "stages_large_feature_map" if large else "stages"
            details[key] = [
                {"name": s.name, "channels": s.channels, "reduction": s.reduction} for s in table
            ]
            details["feature_map_at_224" + ("_large" if large else "")] = (
                f"{224 // table[-1].reduction}×{224 // table[-1].reduction}"
            )
        return details
