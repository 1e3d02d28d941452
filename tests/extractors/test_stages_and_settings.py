"""Stages (names, groups, refusals), hyperparameters, and the rules every extract() keeps."""

from __future__ import annotations

import json

import pytest
import torch
from extractor_nets import images, pointwise_model

from wsolkit.errors import SettingsError, UsageError
from wsolkit.extractors import ExtractorParams, ScoreMapExtractor, StageError
from wsolkit.extractors.base import compact_stages, stage_groups
from wsolkit.methods.base import WsolMethod
from wsolkit.methods.cam import CAM
from wsolkit.registry import backbones, extractors

RESNET_STAGES = tuple(s.name for s in backbones.load("resnet50").stage_table())


@pytest.fixture(scope="module")
def resnet():
    return backbones.create("resnet50", num_classes=2)


def test_groups_and_their_compact_listing() -> None:
    groups = stage_groups(RESNET_STAGES)
    assert groups == {
        "layer1": "layer1.2",
        "layer2": "layer2.3",
        "layer3": "layer3.5",
        "layer4": "layer4.2",
    }
    assert compact_stages(RESNET_STAGES) == (
        "stem, layer1.0…layer1.2, layer2.0…layer2.3, layer3.0…layer3.5, layer4.0…layer4.2"
    )
    assert stage_groups(("conv1", "conv2")) == {}
    assert compact_stages(("a.1", "a.3", "b")) == "a.1, a.3, b"


def test_resolve_stage_names_groups_and_default(resnet) -> None:
    grad_cam = extractors.create("grad-cam")
    assert grad_cam.resolve_stage(resnet, None) is None
    assert grad_cam.resolve_stage(resnet, "layer3") == "layer3.5"
    assert grad_cam.resolve_stage(resnet, "layer2.1") == "layer2.1"
    assert grad_cam.resolve_stage(resnet, "stem") == "stem"


def test_unknown_stage_is_one_line_naming_everything(resnet) -> None:
    with pytest.raises(StageError) as info:
        extractors.create("layer-cam").resolve_stage(resnet, "layer5")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "unknown stage 'layer5' for extractor 'layer-cam' on backbone 'resnet50'."
    )
    assert "Did you mean 'layer4'?" in message
    assert "layer3.0…layer3.5" in message
    assert "groups (each its last stage): layer1, layer2, layer3, layer4" in message
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_cam_refuses_inner_stages_and_accepts_the_final_one(resnet) -> None:
    cam = extractors.create("cam")
    assert cam.resolve_stage(resnet, None) is None
    assert cam.resolve_stage(resnet, "layer4") == "layer4.2"
    with pytest.raises(StageError, match=r"--stage is for the gradient-based extractors") as info:
        cam.resolve_stage(resnet, "layer3")
    assert "\n" not in str(info.value) and "'layer3'" in str(info.value)


def test_map_shape_probes_the_stage(resnet) -> None:
    model = CAM().build(resnet).eval()
    grad_cam = extractors.create("grad-cam")
    assert grad_cam.map_shape(CAM(), model, 64, None) == (4, 4)
    assert grad_cam.map_shape(CAM(), model, 64, "layer1") == (16, 16)
    assert extractors.create("cam").map_shape(CAM(), model, 96, None) == (6, 6)


def test_hyperparameters_are_validated_by_name() -> None:
    with pytest.raises(
        SettingsError,
        match=r"unknown hyperparameter extractor.chunk for extractor 'score-cam'. Did you mean 'chunk_size'\? Its hyperparameters: chunk_size.",
    ):
        extractors.create("score-cam", chunk=3)
    with pytest.raises(
        SettingsError, match=r"invalid setting extractor.chunk_size = 0 \(extractor 'score-cam'\)"
    ):
        extractors.create("score-cam", chunk_size=0)
    with pytest.raises(SettingsError, match=r"Its hyperparameters: none."):
        extractors.create("grad-cam", relu=False)
    bag = extractors.load("bagcams")
    assert bag({"published_pipeline": True}).params.published_pipeline
    assert bag(bag.Params(published_pipeline=True)).params == bag(published_pipeline=True).params
    assert repr(bag()) == "BagCAMs(published_pipeline=False)"


def test_plugin_details_are_json_with_the_method_helper_format() -> None:
    details = json.loads(json.dumps(extractors.load("score-cam").plugin_details()))
    assert details == {
        "needs_gradients": False,
        "default_stage": "the final feature map",
        "hyperparameters": [
            {
                "name": "chunk_size",
                "type": "int",
                "default": 32,
                "range": "[1, inf)",
                "description": details["hyperparameters"][0]["description"],
            }
        ],
    }
    assert "one forward pass per image and channel" in details["hyperparameters"][0]["description"]
    assert extractors.load("grad-cam").plugin_details()["needs_gradients"] is True


def test_extract_needs_eval_mode_and_valid_classes() -> None:
    model, x = pointwise_model(), images(size=8)
    grad_cam = extractors.create("grad-cam")
    model.train()
    with pytest.raises(ValueError, match=r"eval mode: call model.eval\(\)"):
        grad_cam.extract(CAM(), model, x, torch.tensor([0, 1]))
    model.eval()
    with pytest.raises(ValueError, match=r"classes must be B or B×k with B = 2, got shape \(3,\)"):
        grad_cam.extract(CAM(), model, x, torch.tensor([0, 1, 2]))


@pytest.mark.parametrize("name", ["grad-cam", "bagcams", "eigen-cam", "score-cam"])
def test_extract_leaves_parameters_and_mode_alone(name: str) -> None:
    model, x = pointwise_model(relu=True), images(size=8)
    frozen = next(model.parameters())
    frozen.requires_grad_(False)  # a frozen layer must not stop the gradients at the stage
    with torch.inference_mode():
        result = extractors.create(name).extract(CAM(), model, x, torch.tensor([0, 2]), stage="a")
    assert result.cams.shape == (2, 1, 4, 4) and torch.isfinite(result.cams).all()
    assert all(p.grad is None for p in model.parameters())
    assert not model.training and not frozen.requires_grad


def test_a_minimal_plugin_subclass() -> None:
    class OnesParams(ExtractorParams):
        pass

    class Ones(ScoreMapExtractor):
        name = "ones"
        description = "All ones."
        Params = OnesParams

        def extract(self, method: WsolMethod, model, images, classes, *, stage=None):
            raise NotImplementedError

    assert Ones().params == OnesParams()
    assert Ones.plugin_details()["default_stage"] == "the final feature map"
