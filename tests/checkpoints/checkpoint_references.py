"""Networks in the reference repositories' module layouts, rebuilt here with plain ``torch.nn``.

Written for these tests from the published structure of the reference models
(no reference code is copied or imported): the key names, the block order and
the forward pass of the CAM networks of wsolevaluation, bridging-gap and
DA-WSOL. A state dict of one of these modules has the reference's key names
*by construction* (``nn.Sequential`` numbering, attribute names), independently
of wsolkit's key tables, so a table that renames wrongly cannot pass by symmetry.

Only the inference path is rebuilt: ADL and the attentive drop are the identity
(ADL) or unused (drop) in eval mode and have no parameters, so they are
``nn.Identity`` placeholders that keep the ``Sequential`` numbering. The ACoL
and SPG networks are rebuilt for their key names and shapes only (no forward).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# VGG16: (out channels, number of convs) per block.
_VGG_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def vgg_tokens(kind: str, large_feature_map: bool) -> list[object]:
    """The reference's ``make_layers`` configuration for ``kind`` ("cam", "adl", "drop").

    Tokens: an int (a 3×3 conv to that many channels, then a ReLU), "M" (2×2 max-pool),
    "A" (an ADL layer) and "D" (bridging-gap's split point, the attentive drop).
    """
    tokens: list[object] = []
    for block, (channels, convs) in enumerate(_VGG_BLOCKS):
        tokens += [channels] * convs
        if block < 3:
            tokens.append("M")
            if block == 2 and kind == "adl":
                tokens.append("A")  # after pool3
        elif block == 3:
            if kind in ("adl", "drop"):
                tokens.append("A" if kind == "adl" else "D")  # after conv4_3
            if not large_feature_map:
                tokens.append("M")  # pool4, absent from the 28×28 network
        elif kind == "adl":
            tokens.append("A")  # after conv5_3
    return tokens


def _vgg_modules(tokens: list[object], channels: int = 3) -> list[nn.Module]:
    modules: list[nn.Module] = []
    for token in tokens:
        if token == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif token in ("A", "D"):
            modules.append(nn.Identity())
        else:
            assert isinstance(token, int)
            modules += [nn.Conv2d(channels, token, kernel_size=3, padding=1), nn.ReLU()]
            channels = token
    return modules


def _convs(*layers: tuple[int, int, int]) -> nn.Sequential:
    """``Sequential(conv, ReLU, conv, ReLU, …)`` from ``(in, out, kernel)``; a 1×1 conv ends it."""
    modules: list[nn.Module] = []
    for index, (cin, cout, kernel) in enumerate(layers):
        modules.append(nn.Conv2d(cin, cout, kernel, padding=kernel // 2))
        if kernel == 3 or index < len(layers) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def _acol_classifier(channels: int, num_classes: int) -> nn.Sequential:
    """ACoL's classifier_A / classifier_B: two 3×3 convs to 1024 (with ReLUs), a 1×1 to K."""
    return _convs((channels, 1024, 3), (1024, 1024, 3), (1024, num_classes, 1))


def _add_spg_branches(module: nn.Module, b_in: int, b_mid: int, c_in: int) -> None:
    """SPG's side branches: SPG_B_1a / SPG_B_2a (3×3 + ReLU), SPG_B_shared and SPG_C (3×3, 1×1)."""
    module.SPG_B_1a = _convs((b_in, b_mid, 3))
    module.SPG_B_2a = _convs((b_in, b_mid, 3))
    module.SPG_B_shared = _convs((b_mid, b_mid, 3), (b_mid, 1, 1))
    module.SPG_C = _convs((c_in, 512, 3), (512, 1, 1))


class ReferenceVgg(nn.Module):
    """VggCam / VggDrop: ``features``, ``conv6`` + ReLU, GAP, ``fc``; CAM = mean_c w_y·F.

    ``kind`` "acol" (VggAcol: the CAM trunk with pool4 at either size, classifier_A/_B) and
    "spg" (VggSpg: ``features`` ends at pool3; SPG_A_1 = conv4_*, SPG_A_2 = conv5_*,
    SPG_A_3, the class-map conv SPG_A_4, the side branches) are rebuilt for their keys.
    """

    def __init__(self, kind: str, large_feature_map: bool, num_classes: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "acol":
            self.features = nn.Sequential(*_vgg_modules(vgg_tokens("cam", False)))
            self.classifier_A = _acol_classifier(512, num_classes)
            self.classifier_B = _acol_classifier(512, num_classes)
            return
        if kind == "spg":
            tokens = vgg_tokens("cam", False)
            self.features = nn.Sequential(*_vgg_modules(tokens[: tokens.index(512)]))
            self.SPG_A_1 = _convs((256, 512, 3), (512, 512, 3), (512, 512, 3))
            self.SPG_A_2 = _convs((512, 512, 3), (512, 512, 3), (512, 512, 3))
            self.SPG_A_3 = _convs((512, 512, 3), (512, 512, 3))
            self.SPG_A_4 = nn.Conv2d(512, num_classes, 1)
            _add_spg_branches(self, 512, 512, 512)
            return
        tokens = vgg_tokens(kind, large_feature_map)
        if kind == "drop":  # ModuleList [Sequential(before D), AttentiveDrop, Sequential(after)]
            split = tokens.index("D")
            self.features: nn.Module = nn.ModuleList(
                [
                    nn.Sequential(*_vgg_modules(tokens[:split])),
                    nn.Identity(),
                    nn.Sequential(*_vgg_modules(tokens[split + 1 :], channels=512)),
                ]
            )
        else:
            self.features = nn.Sequential(*_vgg_modules(tokens))
        self.conv6 = nn.Conv2d(512, 1024, kernel_size=3, padding=1)
        self.fc = nn.Linear(1024, num_classes)

    def feature_map(self, x: Tensor) -> Tensor:
        """The feature map after conv6 and its ReLU (the unerased path for "drop")."""
        x = self.features[2](self.features[0](x)) if self.kind == "drop" else self.features(x)
        return F.relu(self.conv6(x))

    def forward(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Logits and the raw CAMs of ``labels``."""
        return linear_cam(self.feature_map(x), self.fc, labels)


def linear_cam(features: Tensor, fc: nn.Linear, labels: Tensor) -> tuple[Tensor, Tensor]:
    """GAP + ``fc`` logits and ``(w_y[:, :, None, None] · F).mean(1)`` CAMs (the references')."""
    logits = fc(features.mean(dim=(2, 3)))
    weights = fc.weight[labels]
    cams = (weights.view(*features.shape[:2], 1, 1) * features).mean(1)
    return logits, cams


class Bottleneck(nn.Module):
    """The ResNet50 bottleneck of the references (torchvision's: stride on the 3×3 conv)."""

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
            if downsample
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def _blocks(inplanes: int, planes: int, count: int, stride: int) -> list[nn.Module]:
    blocks: list[nn.Module] = [Bottleneck(inplanes, planes, stride, downsample=True)]
    blocks += [Bottleneck(planes * 4, planes, 1, downsample=False) for _ in range(count - 1)]
    return blocks


class ReferenceResNet(nn.Module):
    """ResNetCam / ResNetAdl / ResNetDrop and DA-WSOL's extractors, by ``kind``.

    kinds: "cam" (wsolevaluation, bridging-gap), "adl" (ADL modules at layer3.1, layer4.1,
    layer4.4), "drop" (layer4 split into layer4_1 and layer4_2), "extractor" (DA-WSOL's
    ResNet: no fc) and "extractor-adl" (DA-WSOL's ResNetAdl: ADL layout, an unused fc);
    for their keys only, "acol" (classifier_A/_B instead of fc) and "spg" (layer3 split
    into SPG_A1 = block 0 and SPG_A2 = blocks 1-5, the class-map conv SPG_A4, the side
    branches).
    """

    def __init__(self, kind: str, large_feature_map: bool, num_classes: int) -> None:
        super().__init__()
        self.kind = kind
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(*_blocks(64, 64, 3, 1))
        self.layer2 = nn.Sequential(*_blocks(256, 128, 4, 2))
        layer3 = _blocks(512, 256, 6, 1 if large_feature_map else 2)
        layer4 = _blocks(1024, 512, 3, 1)
        adl = kind in ("adl", "extractor-adl")
        if adl:
            layer3.insert(1, nn.Identity())
            layer4.insert(1, nn.Identity())
            layer4.append(nn.Identity())
        if kind == "spg":
            self.SPG_A1 = nn.Sequential(layer3[0])
            self.SPG_A2 = nn.Sequential(*layer3[1:])
        else:
            self.layer3 = nn.Sequential(*layer3)
        if kind == "drop":
            self.layer4_1 = nn.Sequential(layer4[0])
            self.layer4_2 = nn.Sequential(*layer4[1:])
        else:
            self.layer4 = nn.Sequential(*layer4)
        if kind == "acol":
            self.classifier_A = _acol_classifier(2048, num_classes)
            self.classifier_B = _acol_classifier(2048, num_classes)
        elif kind == "spg":
            self.SPG_A4 = nn.Conv2d(2048, num_classes, 1)
            _add_spg_branches(self, 1024, 1024, 2048)
        elif kind != "extractor":
            self.fc = nn.Linear(2048, num_classes)

    def feature_map(self, x: Tensor) -> Tensor:
        """The output of layer4 (of layer4_2 for "drop")."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        if self.kind == "drop":
            return self.layer4_2(self.layer4_1(x))
        return self.layer4(x)

    def forward(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Logits and the raw CAMs of ``labels`` (wsolevaluation / bridging-gap)."""
        return linear_cam(self.feature_map(x), self.fc, labels)


class ReferenceCamClassifier(nn.Module):
    """DA-WSOL's CAMClassifier: a 1×1 conv ``fc`` with bias over the extractor's features."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, num_classes, kernel_size=1)

    def forward(self, features: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (the conv on the pooled features) and min-max normalized CAMs of ``labels``."""
        logits = self.fc(features.mean(dim=(2, 3), keepdim=True)).flatten(1)
        maps = self.fc(features)
        flat = maps.flatten(2)
        low, high = flat.min(-1, keepdim=True).values, flat.max(-1, keepdim=True).values
        normalized = ((flat - low) / (high - low)).view_as(maps)
        return logits, normalized[torch.arange(len(labels)), labels]


def randomize(module: nn.Module, generator: torch.Generator) -> None:
    """Fill every parameter and buffer with random values of a sensible scale (BN var > 0)."""
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                tensor.fill_(7)
            elif name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5, generator=generator)
            elif tensor.dim() > 1:
                fan_in = tensor[0].numel()
                tensor.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
            else:
                tensor.normal_(0.0, 0.1, generator=generator)
            if name.endswith("bn1.weight") or name.endswith("bn2.weight"):
                tensor.uniform_(0.5, 1.5, generator=generator)


def normalize(cams: Tensor) -> Tensor:
    """Per-map min-max normalization (B×H×W)."""
    flat = cams.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - low) / (high - low)).view_as(cams)


def prefixed(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """``state`` with ``prefix`` before every key."""
    return {prefix + key: value for key, value in state.items()}
