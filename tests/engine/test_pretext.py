"""The shipped ``synthetic-pretrained`` trunk of ``tiny``: the pretext task's determinism,
the file's hash, loading it, and refusing a damaged copy."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from wsolkit.backbones import WeightsError, tiny
from wsolkit.backbones.tiny import Tiny
from wsolkit.backbones.weights import parse_weights, read_state_dict
from wsolkit.data.prepare.synthetic_draw import BodyLatents, render_sample
from wsolkit.engine import pretext
from wsolkit.registry import backbones

SMALL = pretext.PretextConfig(images=48, epochs=1, batch_size=16, threads=1)


def test_the_pretext_script_writes_the_same_bytes_twice_and_its_seeds_matter() -> None:
    first, _ = pretext.train_pretext(SMALL)
    again, _ = pretext.train_pretext(SMALL)
    other, _ = pretext.train_pretext(replace(SMALL, init_seed=1))
    other_images, _ = pretext.train_pretext(replace(SMALL, image_seed=5))
    assert pretext.encode_state(first) == pretext.encode_state(again)
    assert pretext.encode_state(first) != pretext.encode_state(other)
    assert pretext.encode_state(first) != pretext.encode_state(other_images)


def test_the_pretext_keeps_tiny_s_convolutions_and_drops_its_classifiers() -> None:
    convs = {k for k in Tiny(num_classes=10).state_dict() if not k.startswith("head.")}
    state, accuracy = pretext.train_pretext(SMALL)
    assert set(state) == convs
    assert set(accuracy) == set(pretext.TASKS)
    trunk, _ = pretext.train_pretext(replace(SMALL, keep="conv4"))
    assert set(trunk) == {k for k in convs if not k.startswith("conv6.")}


def test_the_command_line_writes_the_file_and_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "trunk.pt"
    args = [
        "--out",
        str(out),
        "--images",
        "32",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--tasks",
        "angle,period",
    ]
    assert pretext.main(args) == 0
    data = out.read_bytes()
    assert hashlib.sha256(data).hexdigest() in capsys.readouterr().out
    assert set(read_state_dict(out)) == set(
        pretext.trunk_state(pretext.PretextNet(pretext.PretextConfig()))
    )


def test_the_command_line_refuses_an_unknown_task(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pretext.main(["--out", str(tmp_path / "x.pt"), "--tasks", "angle,colour"]) == 2
    err = capsys.readouterr().err
    assert "'colour'" in err
    assert "choose one or more of angle, period, body_hue, head_hue" in err
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize(
    ("latents", "expected"),
    [
        (BodyLatents(angle=0.0, stripe_period=4.0, body_hue=0.0, head_hue=0.0), [0, 0, 0, 0]),
        # the last bin of every task; head hue 0.992 is class 0's hue (0 - 0.008) → bin 0
        (
            BodyLatents(
                angle=2 * math.pi - 1e-9, stripe_period=6.999, body_hue=0.999, head_hue=0.992
            ),
            [7, 2, 7, 0],
        ),
        (
            BodyLatents(angle=math.pi / 4, stripe_period=5.0, body_hue=0.5, head_hue=0.9),
            [1, 1, 4, 4],
        ),
        (BodyLatents(angle=math.pi, stripe_period=6.0, body_hue=0.3, head_hue=0.3), [4, 2, 2, 1]),
    ],
)
def test_pretext_targets_bin_each_attribute(latents: BodyLatents, expected: list[int]) -> None:
    assert pretext.pretext_targets(latents, tuple(pretext.TASKS)) == expected


def test_the_drawn_latents_describe_the_image() -> None:
    for index in range(20):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(7, spawn_key=(index,))))
        sample = render_sample(rng, index % 10)
        latents = sample.latents
        assert 0 <= latents.angle < 2 * math.pi
        assert 4 <= latents.stripe_period < 7
        hue_gap = abs((latents.head_hue - sample.head_class / 10 + 0.5) % 1.0 - 0.5)
        assert hue_gap < 0.05  # N(0, 0.008) around the head class's hue
        # The head lies on the side of the body that the angle points to.
        ys, xs = np.nonzero(sample.part_mask)
        by, bx = np.nonzero(sample.object_mask & ~sample.part_mask)
        direction = np.array([xs.mean() - bx.mean(), ys.mean() - by.mean()])
        axis = np.array([math.cos(latents.angle), math.sin(latents.angle)])
        assert direction @ axis / np.linalg.norm(direction) > 0.9


def test_the_shipped_file_has_the_recorded_hash_and_is_small() -> None:
    data = tiny.SHIPPED_FILE.read_bytes()
    assert len(tiny.SHIPPED_SHA256) == 64
    assert hashlib.sha256(data).hexdigest() == tiny.SHIPPED_SHA256
    assert len(data) <= 1_000_000


def test_synthetic_pretrained_loads_the_shipped_trunk_into_tiny() -> None:
    state = read_state_dict(tiny.SHIPPED_FILE)
    torch.manual_seed(0)
    net = backbones.create("tiny", num_classes=10, weights="synthetic-pretrained")
    torch.manual_seed(0)
    scratch = backbones.create("tiny", num_classes=10, weights="none")
    own = net.state_dict()
    assert net.loaded_keys == sorted(state)
    for key, tensor in state.items():
        assert torch.equal(own[key], tensor), key
    # the classifier is new, initialized as from scratch; conv6 (F) comes from the file
    assert {"conv6.0.weight", "conv6.0.bias"} <= set(state)
    for key in ("head.fc.weight", "head.fc.bias"):
        assert key not in state
        assert torch.equal(own[key], scratch.state_dict()[key]), key
    assert not torch.equal(own["conv1.0.weight"], scratch.state_dict()["conv1.0.weight"])


def test_the_name_is_case_insensitive_and_listed() -> None:
    assert parse_weights(" Synthetic-Pretrained ", Tiny.named_weights()).kind == "named"
    details = Tiny.plugin_details()["named_weights"]
    assert details["synthetic-pretrained"]["sha256"] == tiny.SHIPPED_SHA256


def test_a_damaged_shipped_file_is_refused_with_the_remake_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = tmp_path / tiny.SHIPPED_FILE.name
    data = bytearray(tiny.SHIPPED_FILE.read_bytes())
    data[-100] ^= 1
    damaged.write_bytes(bytes(data))
    shipped = Tiny.named_weights()["synthetic-pretrained"]
    monkeypatch.setattr(
        Tiny,
        "named_weights",
        classmethod(lambda cls: {"synthetic-pretrained": replace(shipped, path=damaged)}),
    )
    with pytest.raises(WeightsError) as info:
        Tiny(num_classes=10, weights="synthetic-pretrained")
    message = str(info.value)
    assert str(damaged) in message and tiny.SHIPPED_SHA256 in message
    assert "python -m wsolkit.engine.pretext --out" in message

    damaged.unlink()
    with pytest.raises(WeightsError, match="cannot be read.*reinstall wsolkit"):
        Tiny(num_classes=10, weights="synthetic-pretrained")


def test_another_backbone_does_not_know_the_name() -> None:
    with pytest.raises(WeightsError, match="neither 'imagenet', 'none' nor an existing file"):
        parse_weights("synthetic-pretrained", {})
    with pytest.raises(WeightsError, match="'imagenet', 'none', 'synthetic-pretrained' nor"):
        parse_weights("synthetic-pretrain", Tiny.named_weights())
