"""wsolkit.testing: the conformance checks pass on every built-in and catch broken plugins.

Like torchvision's ``test_models.py`` the checks run over the registry (wsolkit's
own backbones, methods and extractors, aliases of methods included); the dicts of what each
backbone must show are checked to cover the registry exactly. The heavy
backbones take 6–30 s each on a CPU and are marked slow. The negative tests
break one thing at a time in a copy of ``tiny`` (or a fake method) and expect
the message that names it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping

import pytest
import torch
from pydantic import BaseModel, ConfigDict
from registry_builtins import assert_covers, builtin_names
from torch import Tensor, nn

from wsolkit.backbones import StageInfo
from wsolkit.backbones.tiny import Tiny
from wsolkit.engine.device import torch_threads
from wsolkit.errors import SettingsError
from wsolkit.extractors.gradients import GradCAM
from wsolkit.methods import IncompatibleBackboneError, WsolMethod
from wsolkit.methods.cam import CAM
from wsolkit.registry import backbones, extractors, methods
from wsolkit.testing import (
    BareBackbone,
    builtin_extractors,
    builtin_methods,
    check_backbone,
    check_extractor,
    check_method,
)

BUILTIN_BACKBONES = builtin_names(backbones)
BUILTIN_METHODS = [n for n in methods.names() if methods.package_of(n) == "wsolkit"]  # + aliases
# Methods that must refuse the backbone.
INCOMPATIBLE: dict[str, list[str]] = {
    "inception_v3": ["aligned-eil"],
    "resnet50": [],
    "tiny": [],
    "vgg16": [],
}
# Side of the final feature map at 64 px input, plain and with large_feature_map=True.
SIDE_64 = {"inception_v3": (4, 8), "resnet50": (4, 8), "tiny": (16, 16), "vgg16": (4, 8)}


def _vgg16_layout() -> dict[str, Tensor]:
    """torchvision's VGG16 key layout without building its 120M-parameter classifier."""
    from torchvision.models.vgg import cfgs, make_layers

    state = {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}
    state["classifier.6.weight"] = torch.zeros(1000, 4096)  # must be ignored
    return state


def _resnet50() -> Mapping[str, Tensor]:
    import torchvision

    return torchvision.models.resnet50().state_dict()


def _inception_v3() -> Mapping[str, Tensor]:
    import torchvision

    return torchvision.models.inception_v3(init_weights=False, aux_logits=True).state_dict()


# The torchvision state dict each backbone's pretrained weights come in (None: it has none).
REFERENCE: dict[str, Callable[[], Mapping[str, Tensor]] | None] = {
    "inception_v3": _inception_v3,
    "resnet50": _resnet50,
    "tiny": None,
    "vgg16": _vgg16_layout,
}
TABLES = {"INCOMPATIBLE": INCOMPATIBLE, "SIDE_64": SIDE_64, "REFERENCE": REFERENCE}


@pytest.mark.parametrize("table", TABLES)
def test_the_builtins_are_all_covered(table: str) -> None:
    assert_covers(TABLES[table], backbones, f"{table} in tests/test_testing.py")


def test_builtin_methods_are_the_registered_ones() -> None:
    assert builtin_methods() == builtin_names(methods)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.slow] if n != "tiny" else []) for n in BUILTIN_BACKBONES],
)
def test_builtin_backbone_conforms(name: str) -> None:
    small, large = SIDE_64[name]
    report = check_backbone(
        name,
        expect_incompatible=INCOMPATIBLE[name],
        expected_feature_size=small,
        expected_feature_size_large=large,
        reference_state_dict=REFERENCE[name],
    )
    assert report.backbone == name
    assert sorted(report.compatible + report.incompatible) == builtin_methods()
    assert all(o.losses["total"] > 0 for o in report.methods.values() if o.status == "ok")
    assert report.loaded_keys > 0


@pytest.mark.parametrize("name", BUILTIN_METHODS)
def test_builtin_method_conforms(name: str) -> None:
    report = check_method(name)
    assert report.feature_size == report.cam_size == (16, 16)
    assert "total" in report.losses
    assert report.hyperparameters == tuple(methods.load(name).Params.model_fields)


def test_method_with_params_and_another_backbone() -> None:
    report = check_method("eil", params={"split_after": "conv3", "sigma": 0.5}, input_size=32)
    assert report.feature_size == (8, 8)
    assert report.losses["total"] == pytest.approx(
        report.losses["ce"] + 0.5 * report.losses["ce_erased"]
    )
    check_method("adl", backbone=BareBackbone, params={"positions": ["conv1"]}, num_classes=3)


def test_checks_leave_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_method("cutmix")
    torch.testing.assert_close(torch.rand(3), expected)


# -- broken backbones ----------------------------------------------------------------------


def _with_stage(cls: type[Tiny], index: int, **change: object) -> type[Tiny]:
    """A copy of ``cls`` whose ``stage_table`` declares ``change`` for stage ``index``."""

    def stage_table(klass: type[Tiny], large_feature_map: bool = False) -> tuple[StageInfo, ...]:
        table = list(Tiny.stage_table(large_feature_map))
        table[index] = dataclasses.replace(table[index], **change)  # type: ignore[arg-type]
        return tuple(table)

    return type("Broken", (cls,), {"name": "broken", "stage_table": classmethod(stage_table)})


FAST = {"skip_weights": True, "methods": []}


def test_catches_wrong_declared_channels() -> None:
    broken = _with_stage(Tiny, 2, channels=48)
    with pytest.raises(
        AssertionError,
        match=r"backbone 'broken' \[large_feature_map=False\]: stage 'conv3' declares 48 "
        r"channels, its output has 64",
    ):
        check_backbone(broken, **FAST)


def test_catches_wrong_declared_stride() -> None:
    broken = _with_stage(Tiny, 1, reduction=2)
    with pytest.raises(
        AssertionError,
        match=r"stage 'conv2' declares reduction 2 \(32×32 at 64 px input\), its output is 16×16",
    ):
        check_backbone(broken, **FAST)


def test_catches_a_split_point_that_is_the_last_stage() -> None:
    broken = type("Broken", (Tiny,), {"name": "broken", "default_split_point": "conv6"})
    with pytest.raises(AssertionError, match="split point 'conv6' is not an inner stage"):
        check_backbone(broken, **FAST)


def test_catches_unknown_adl_positions() -> None:
    broken = type("Broken", (Tiny,), {"name": "broken", "default_adl_positions": ("conv5",)})
    with pytest.raises(AssertionError, match=r"ADL positions \['conv5'\] are not stages"):
        check_backbone(broken, **FAST)


def test_a_backbone_with_one_feature_map_size_must_refuse_the_other() -> None:
    lax = type("Broken", (Tiny,), {"name": "broken", "supports_large_feature_map": False})
    with pytest.raises(AssertionError, match="supports_large_feature_map is False but the "
                       "constructor accepted large_feature_map=True"):  # fmt: skip
        check_backbone(lax, **FAST)

    class OneSize(Tiny):
        name = "one_size"
        supports_large_feature_map = False

        def __init__(self, *, num_classes: int, large_feature_map: bool = False, weights="none"):
            if large_feature_map:
                raise SettingsError("model.large_feature_map = True: one size; set it to false")
            super().__init__(num_classes=num_classes, weights=weights)

    report = check_backbone(OneSize, **FAST)
    assert list(report.stages) == [False]  # only the size it has was built and checked


def test_catches_a_positional_constructor() -> None:
    class Positional(Tiny):
        name = "positional"

        def __init__(
            self, num_classes: int, large_feature_map: bool = False, weights: str = "none"
        ):
            super().__init__(
                num_classes=num_classes, large_feature_map=large_feature_map, weights=weights
            )

    with pytest.raises(AssertionError, match="keyword-only 'num_classes'"):
        check_backbone(Positional, **FAST)


def test_catches_parameters_outside_every_stage() -> None:
    class Orphan(Tiny):
        name = "orphan"

        def __init__(
            self, *, num_classes: int, large_feature_map: bool = False, weights: str = "none"
        ) -> None:
            super().__init__(
                num_classes=num_classes, large_feature_map=large_feature_map, weights=weights
            )
            self.unused = nn.Linear(4, 4)

    with pytest.raises(
        AssertionError, match=r"parameters in no stage and not in the head: \['unused.weight'"
    ):
        check_backbone(Orphan, **FAST)


def test_catches_a_parameter_in_both_groups() -> None:
    class Twice(Tiny):
        name = "twice"

        def parameter_groups(self, recipe="bridging-gap"):  # type: ignore[no-untyped-def]
            groups = super().parameter_groups(recipe)
            groups.new.append(groups.pretrained[0])
            return groups

    with pytest.raises(
        AssertionError,
        match=r"parameter_groups\('bridging-gap'\)\]: parameters listed twice: \['conv1.0.weight'\]",
    ):
        check_backbone(Twice, **FAST)


def test_catches_no_new_parameters() -> None:
    broken = type(
        "Broken", (Tiny,), {"name": "broken", "is_new_parameter": lambda self, n, r: False}
    )
    with pytest.raises(AssertionError, match="the 'new' group is empty"):
        check_backbone(broken, **FAST)


def test_catches_weights_that_do_not_load_back() -> None:
    broken = type(
        "Broken",
        (Tiny,),
        {"name": "broken", "map_pretrained_key": lambda self, k: "x." + k},
    )
    with pytest.raises(
        AssertionError, match=r"own state_dict\(\) does not load back with weights=PATH: .*missing"
    ):
        check_backbone(broken, methods=[])


def test_catches_a_wrong_feature_size_expectation() -> None:
    with pytest.raises(
        AssertionError, match="final feature map at 64 px .* is 16×16, expected 8×8"
    ):
        check_backbone("tiny", expected_feature_size=8, **FAST)


def test_catches_an_unexpected_incompatibility_list() -> None:
    with pytest.raises(
        AssertionError, match=r"methods refusing the backbone: \[\], expected \['eil'\]"
    ):
        check_backbone("tiny", skip_weights=True, methods=["cam"], expect_incompatible=["eil"])


def test_reports_methods_the_backbone_cannot_host() -> None:
    no_split = type("NoSplit", (Tiny,), {"name": "no-split", "default_split_point": None})
    report = check_backbone(no_split, skip_weights=True, methods=["cam", "eil", "aligned-eil"])
    assert report.compatible == ["cam"]
    assert report.incompatible == ["eil", "aligned-eil"]
    assert "needs a split point" in report.methods["eil"].message


# -- broken methods --------------------------------------------------------------------------


def test_catches_a_refusal_without_reason(fake_plugin: Callable[..., object]) -> None:
    fake_plugin(
        "picky-dist",
        {"wsolkit.methods": {"picky": "picky_method:Picky"}},
        modules={
            "picky_method": """
                from wsolkit.methods import IncompatibleBackboneError, WsolMethod

                class Picky(WsolMethod):
                    name = "picky"
                    description = "Refuses everything."

                    def check(self, backbone):
                        raise IncompatibleBackboneError("no, thanks")
            """
        },
    )
    with pytest.raises(
        AssertionError, match="refused the backbone although it offers everything.*no, thanks"
    ):
        check_backbone("tiny", skip_weights=True, methods=["picky"])


class NoTotal(CAM):
    name = "no-total"
    description = "Forgets the total."

    def losses(self, outputs, targets, *, epoch=0, warm_epochs=0):  # type: ignore[no-untyped-def]
        return {"ce": super().losses(outputs, targets)["ce"]}


class WrongCams(CAM):
    name = "wrong-cams"
    description = "Returns CAMs at the input resolution."

    def cams(self, model, images, classes=None, *, topk=1):  # type: ignore[no-untyped-def]
        result = super().cams(model, images, classes, topk=topk)
        return result._replace(cams=nn.functional.interpolate(result.cams, size=images.shape[-2:]))


class DetachedHead(CAM):
    name = "detached-head"
    description = "Trains only the trunk (the head gets no gradient)."

    def losses(self, outputs, targets, *, epoch=0, warm_epochs=0):  # type: ignore[no-untyped-def]
        loss = outputs["features"].mean()
        return {"total": loss, "ce": loss}


class LaxParamsModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class LaxParams(WsolMethod):
    name = "lax"
    description = "Its Params model accepts unknown keys."
    Params = LaxParamsModel  # type: ignore[assignment]


class Unrequired(CAM):
    name = "unrequired"
    description = "Declares a requirement but never checks it."
    requires = frozenset({"split_point"})

    def check(self, backbone):  # type: ignore[no-untyped-def]
        return None


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (NoTotal, r"losses\(\) has no 'total' term: \['ce'\]"),
        (
            WrongCams,
            r"cams\(model, images, labels\): cams tensor of shape \(2, 1, 64, 64\), expected \(2, 1, 16, 16\)",
        ),
        (DetachedHead, r"parameter\(s\) got no gradient .*\['backbone.head.fc.weight'"),
        (LaxParams, "Params must subclass wsolkit.methods.MethodParams"),
        (Unrequired, r"requires \['split_point'\] but build\(\) accepted a backbone with none"),
    ],
)
def test_catches_broken_methods(cls: type[WsolMethod], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_method(cls)


def test_bare_backbone_is_refused_by_every_method_with_requirements() -> None:
    bare = BareBackbone(num_classes=3)
    for name in builtin_methods():
        method = methods.create(name)
        if method.requires:
            with pytest.raises(IncompatibleBackboneError):
                method.build(BareBackbone(num_classes=3))
        else:
            method.build(bare)


# -- extractors ------------------------------------------------------------------------------

# Whether each built-in extractor reads inner stages (cam reads the final feature map only).
INNER_STAGES: dict[str, bool] = {
    "bagcams": True,
    "cam": False,
    "eigen-cam": True,
    "grad-cam": True,
    "grad-cam++": True,
    "layer-cam": True,
    "score-cam": True,
    "xgrad-cam": True,
}


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small tensors: one intra-op thread (a shared CPU makes two threads' barriers slow)."""
    with torch_threads(1):
        yield


def test_extractor_table_covers_the_builtins() -> None:
    assert_covers(INNER_STAGES, extractors, "INNER_STAGES in tests/test_testing.py")
    assert builtin_extractors() == builtin_names(extractors)


@pytest.mark.parametrize("name", builtin_names(extractors))
def test_builtin_extractor_conforms(name: str, one_thread: None) -> None:
    report = check_extractor(name)
    assert report.extractor == name and report.backbone == "tiny"
    assert (report.inner_stage == "conv4") is INNER_STAGES[name]
    assert set(report.map_sizes.values()) == {(16, 16)}
    assert report.needs_gradients is extractors.load(name).needs_gradients


def test_extractor_with_params_on_another_method(one_thread: None) -> None:
    report = check_extractor("bagcams", params={"published_pipeline": True}, method="acol")
    assert report.map_sizes == {None: (64, 64), "conv3": (64, 64)}  # ACoL ends tiny at conv4


class InputSize(GradCAM):
    name = "input-size"
    description = "Returns maps resized to the input, but map_shape says the stage's size."

    def maps(self, activations, gradients, images):  # type: ignore[no-untyped-def]
        maps = super().maps(activations, gradients, images)
        return nn.functional.interpolate(maps, size=images.shape[-2:])


class NoAutograd(GradCAM):
    name = "no-autograd"
    description = "Computes gradients without re-enabling autograd."

    def gradients(self, backbone, images, index, stage):  # type: ignore[no-untyped-def]
        acts = backbone.forward_stages(images, through=stage)
        logits = backbone.head(backbone.forward_stages(acts, after=stage))
        (grad,) = torch.autograd.grad(logits[:, 0].sum(), acts)
        return acts, grad[:, None], logits


class TouchesGrads(GradCAM):
    name = "touches-grads"
    description = "Calls backward(), which fills every parameter's .grad."

    def gradients(self, backbone, images, index, stage):  # type: ignore[no-untyped-def]
        with torch.inference_mode(False), torch.enable_grad():
            acts = backbone.forward_stages(images.clone(), through=stage)
            acts.retain_grad()
            logits = backbone.head(backbone.forward_stages(acts, after=stage))
            grads = []
            for j in range(index.shape[1]):
                logits.gather(1, index[:, j : j + 1]).sum().backward(retain_graph=True)
                grads.append(acts.grad.clone())
                acts.grad = None
        return acts.detach(), torch.stack(grads, 1), logits.detach()


class BatchNormalized(GradCAM):
    name = "batch-normalized"
    description = "Divides the maps by the batch's maximum."

    def maps(self, activations, gradients, images):  # type: ignore[no-untyped-def]
        maps = super().maps(activations, gradients, images)
        return maps / maps.max().clamp(min=1e-12)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (
            InputSize,
            r"\[classes B\]: maps tensor of shape \(2, 1, 64, 64\), expected \(2, 1, 16, 16\)",
        ),
        (NoAutograd, r"extract\(\) under torch.inference_mode\(\) raised RuntimeError"),
        (TouchesGrads, r"a parameter's .grad changed"),
        (BatchNormalized, r"an image's map depends on the other images of the batch"),
    ],
)
def test_catches_broken_extractors(cls: type, message: str, one_thread: None) -> None:
    with pytest.raises(AssertionError, match=message):
        check_extractor(cls)


def test_catches_a_multi_line_description_and_lax_params() -> None:
    two_lines = type("TwoLines", (GradCAM,), {"name": "two-lines", "description": "a\nb"})
    with pytest.raises(AssertionError, match="'description' must be one non-empty line"):
        check_extractor(two_lines)
    lax = type("Lax", (GradCAM,), {"name": "lax", "Params": LaxParamsModel})
    with pytest.raises(
        AssertionError, match="Params must subclass wsolkit.extractors.ExtractorParams"
    ):
        check_extractor(lax)
