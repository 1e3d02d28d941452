"""A reduced run of the synthetic study script: scratch and pretrained trunk, every column."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wsolkit.data.prepare.synthetic import prepare_synthetic

STUDY = Path(__file__).parents[1] / "benchmarks" / "synthetic_study.py"
REGIONS = ("head", "body", "background")


@pytest.mark.slow
def test_a_reduced_study_measures_scratch_and_pretrained_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare_synthetic(data, seed=0, train=160, val=40, test=50)
    out = tmp_path / "study"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSOLKIT_")}
    env["WSOLKIT_CACHE"] = str(tmp_path / "cache")
    common = [
        f"data.root={data}",
        "optim.epochs=2",
        "optim.warm_epochs=1",
        "eval.eval_interval=1",
    ]
    done = subprocess.run(
        [
            sys.executable,
            str(STUDY),
            "--seeds",
            "0",
            "--out",
            str(out),
            *[arg for pair in common for arg in ("--set", pair)],
            "--variant",
            "cam=cam,model.weights=none,optim.lr=0.05",
            "--variant",
            "aeil-pre=aligned-eil",  # the recipe's synthetic-pretrained weights
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    study = json.loads((out / "study.json").read_text())
    assert set(study) == {"cam", "aeil-pre"}
    for variant, (row,) in study.items():
        run = out / f"{variant}-seed0"
        settings = (run / "settings.yaml").read_text()
        expected = "synthetic-pretrained" if variant == "aeil-pre" else "none"
        assert f"weights: {expected}" in settings
        test_scores = [
            json.loads(line)
            for line in (run / "metrics.jsonl").read_text().splitlines()
            if '"test' in line
        ]
        assert test_scores, "the run recorded no test scores"
        assert 0 <= row["tau50"] <= 1 and 0 <= row["v2"] <= 100
        assert 0 <= row["part_share"] <= 100
        for when in ("init", "best"):
            for region in REGIONS:
                norm, cosine = row[f"{when}_{region}_norm"], row[f"{when}_{region}_cosine"]
                assert 0 <= norm <= 1 and -1 <= cosine <= 1, (variant, when, region)
        assert not math.isclose(row["best_body_norm"], row["init_body_norm"])
    # The pretrained trunk starts from other features than a random one.
    assert study["aeil-pre"][0]["init_body_norm"] != study["cam"][0]["init_body_norm"]
    assert "feature norm (relative to the image's largest)" in done.stdout
