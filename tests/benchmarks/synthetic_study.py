"""CAM vs aligned EIL on the embedded synthetic benchmark, over several seeds.

For every (variant, seed): ``wsolkit train`` with the shipped synthetic recipe of the
variant's method (seed = initialization seed = data seed), the test CAMs of the best
checkpoint exported to a store, the share of positive CAM mass on the head (the
discriminative part), the best CAM threshold at IoU 50, and the paper's diagnostic
(Fig. 1 of Kim et al., CVPR 2022): per region (head, body, background) of the test
images, the mean feature norm (relative to the image's largest) and the mean cosine
between the final feature and the class weight, for the network before training
(its initialization, pretrained trunk included) and for the best checkpoint. Prints
one line per run (``val`` is the best checkpoint's val MaxBoxAccV2, the number to
tune on; the other columns are test), the mean ± sd per variant, the diagnostic
table, and writes ``study.json``.

    python tests/benchmarks/synthetic_study.py --seeds 0 1 2 --out runs/study

    # scratch vs the pretrained trunk (--weights synthetic-pretrained), CAM and aligned EIL
    python tests/benchmarks/synthetic_study.py --seeds 0 1 2 --out runs/pretrained \
        --variant cam=cam --variant aligned-eil=aligned-eil \
        --variant cam-pre=cam,model.weights=synthetic-pretrained \
        --variant aligned-eil-pre=aligned-eil,model.weights=synthetic-pretrained

A variant is ``NAME=METHOD[,SECTION.KEY=VALUE...]``, e.g. to tune on val:

    python tests/benchmarks/synthetic_study.py --seeds 0 1 --out runs/tune \
        --variant paper=aligned-eil \
        --variant drop-only=aligned-eil,method.lambda_sim=0,method.lambda_norm=0
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from wsolkit.cams import CamStore
from wsolkit.data.metadata import read_split
from wsolkit.data.prepare.synthetic import read_part_masks
from wsolkit.data.spec import read_manifest
from wsolkit.data.transforms import BatchNormalize
from wsolkit.engine.api import train
from wsolkit.engine.build import build_model
from wsolkit.engine.checkpoint import read_checkpoint
from wsolkit.engine.export import ExportOptions, export_cams
from wsolkit.engine.setup import embedded_recipe
from wsolkit.metrics.feature_alignment import (
    REGIONS,
    RegionAlignment,
    cell_weights,
    head_body_background,
)
from wsolkit.metrics.part_mass import part_mass, upsample_cam
from wsolkit.settings import Settings

COLUMNS = (
    "val",
    "top1",
    "box30",
    "box50",
    "box70",
    "v2",
    "pxap",
    "part_share",
    "part_of_object",
    "tau50",
    "minutes",
)


@dataclass(frozen=True)
class TestSplit:
    """The test split, read once per run: ids, uint8 images N×3×S×S, labels, and the object
    and head masks N×S×S (bool)."""

    ids: list[str]
    images: torch.Tensor
    labels: torch.Tensor
    objects: np.ndarray
    parts: np.ndarray


def read_test_split(data_root: Path) -> TestSplit:
    """Images, labels and masks of ``data_root``'s test split, in the metadata's order."""
    manifest = read_manifest(data_root)
    image_root = manifest.resolve(data_root, manifest.image_root)
    mask_root = manifest.resolve(data_root, manifest.mask_root)
    meta = read_split(data_root / "test", require_localization=True)
    heads = read_part_masks(data_root / "test")

    def mask(path: str) -> np.ndarray:
        return cv2.imread(str(mask_root / path), cv2.IMREAD_GRAYSCALE) > 127

    images = [
        cv2.cvtColor(cv2.imread(str(image_root / i)), cv2.COLOR_BGR2RGB) for i in meta.image_ids
    ]
    return TestSplit(
        ids=list(meta.image_ids),
        images=torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2),
        labels=torch.tensor([meta.labels[i] for i in meta.image_ids]),
        objects=np.stack([mask(meta.masks[i].mask_paths[0]) for i in meta.image_ids]),
        parts=np.stack([mask(heads[i]) for i in meta.image_ids]),
    )


def measure_part_mass(store_path: Path, split: TestSplit) -> dict[str, float]:
    """Part shares of the store's raw CAMs against the synthetic object and head masks."""
    index = {image_id: k for k, image_id in enumerate(split.ids)}

    def resized(mask: np.ndarray, size: int) -> np.ndarray:
        nearest = cv2.resize(mask.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
        return nearest > 0

    with CamStore.open(store_path) as store:
        size = store.resolve_eval_size(None)
        samples = (
            (
                upsample_cam(row.cam, size),
                resized(split.objects[index[row.image_id]], size),
                resized(split.parts[index[row.image_id]], size),
            )
            for row in store.rows()
        )
        return part_mass(samples).to_dict()


@torch.no_grad()
def measure_alignment(
    backbone: torch.nn.Module, settings: Settings, split: TestSplit
) -> dict[str, float]:
    """Per region: mean relative feature norm and mean cosine with the true class's weight."""
    normalize = BatchNormalize.from_settings(settings.data)
    regions = head_body_background(torch.from_numpy(split.objects), torch.from_numpy(split.parts))
    backbone.eval()
    tally = RegionAlignment(REGIONS)
    for start in range(0, len(split.ids), 250):
        batch = slice(start, start + 250)
        features = backbone.forward_features(normalize(split.images[batch]))
        tally.update(
            features,
            backbone.head.class_weights,
            split.labels[batch],
            cell_weights(regions[batch], tuple(features.shape[-2:])),
        )
    return {
        f"{region}_{stat}": value
        for region, stats in tally.result().items()
        for stat, value in stats.items()
    }


def diagnostic(run: Path, split: TestSplit) -> dict[str, float]:
    """The alignment diagnostic at initialization (rebuilt with the run's settings and seed,
    pretrained trunk included) and for the best checkpoint."""
    checkpoint = read_checkpoint(run / "checkpoints" / "best.pt")
    settings = Settings(**checkpoint.settings)
    classes = checkpoint.dataset.num_classes
    torch.manual_seed(settings.runtime.seed)
    init = build_model(settings, classes).backbone
    best = build_model(settings, classes, weights="none")
    best.model.load_state_dict(checkpoint.model)
    return {
        **{f"init_{k}": v for k, v in measure_alignment(init, settings, split).items()},
        **{f"best_{k}": v for k, v in measure_alignment(best.backbone, settings, split).items()},
    }


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME=METHOD[,KEY=VALUE...]`` → (name, overrides incl. ``method.name``)."""
    name, sep, rest = text.partition("=")
    method, *pairs = rest.split(",")
    if not sep or not name or not method or not all("=" in p for p in pairs):
        raise SystemExit(f"--variant {text!r}: expected NAME=METHOD[,SECTION.KEY=VALUE...]")
    return name, {"method.name": method, **dict(p.split("=", 1) for p in pairs)}


def one_run(variant: str, overrides: dict[str, str], seed: int, out: Path) -> dict[str, float]:
    name = f"{variant}-seed{seed}"
    start = time.perf_counter()
    summary = train(
        # The method's synthetic recipe, also when --set data.root=DIR names another dataset.
        config=embedded_recipe(str(overrides["method.name"])),
        overrides={
            **overrides,
            "runtime.seed": seed,
            "runtime.out_dir": out,
            "runtime.run_name": name,
            "runtime.quiet": True,
        },
    )
    minutes = (time.perf_counter() - start) / 60
    assert summary is not None
    run = out / name
    store = export_cams(run, ExportOptions(out=run / "cams-test-best.h5", dtype="float32")).path
    data_root = Path(summary.settings["data"]["root"])
    best = summary.test["best"].to_json()
    loc = best["localization"]["max_box_acc"]
    split = read_test_split(data_root)
    mass = measure_part_mass(store, split)
    features = diagnostic(run, split)
    return {
        "val": summary.best_val_score,
        "top1": best["top1"],
        "box30": loc["30"],
        "box50": loc["50"],
        "box70": loc["70"],
        "v2": best["localization"]["max_box_acc_v2"],
        "pxap": best["mask"]["pxap"],
        "part_share": mass["part_share"],
        "part_of_object": mass["part_of_object"],
        "tau50": best["localization"]["best_threshold"]["50"],
        "minutes": minutes,
        **features,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--variant",
        action="append",
        metavar="NAME=METHOD[,KEY=VALUE...]",
        help="a method with setting overrides (repeatable; default: cam and aligned-eil)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a setting override for every variant (repeatable; a variant's own wins), "
        "e.g. data.root=DIR for another prepared synthetic dataset, optim.epochs=2",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/study"))
    args = parser.parse_args(argv)
    if not all("=" in pair for pair in args.set):
        raise SystemExit(f"--set {args.set}: expected SECTION.KEY=VALUE")
    common = dict(pair.split("=", 1) for pair in args.set)
    parsed = [parse_variant(v) for v in args.variant or ["cam=cam", "aligned-eil=aligned-eil"]]
    parsed = [(name, {**common, **overrides}) for name, overrides in parsed]
    variants = dict(parsed)
    if len(variants) < len(parsed):  # a repeated name would silently drop the earlier variant
        names = [name for name, _ in parsed]
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise SystemExit(f"--variant names must differ; repeated: {', '.join(repeated)}")
    results: dict[str, list[dict[str, float]]] = {}
    print("variant       seed " + " ".join(f"{c:>8}" for c in COLUMNS))
    for variant, overrides in variants.items():
        for seed in args.seeds:
            row = one_run(variant, overrides, seed, args.out)
            results.setdefault(variant, []).append(row)
            print(
                f"{variant:13} {seed:4} " + " ".join(f"{row[c]:8.2f}" for c in COLUMNS),
                flush=True,
            )
    print("\nmean ± sd over seeds " + ", ".join(map(str, args.seeds)))
    for variant, rows in results.items():
        cells = []
        for c in COLUMNS:
            values = [r[c] for r in rows]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):6.2f}±{sd:4.2f}")
        print(f"{variant:13} " + " ".join(cells))
    print("\nfeature norm (relative to the image's largest) / cosine with the class weight, mean")
    print("variant       when  " + " ".join(f"{r:>17}" for r in REGIONS))
    for variant, rows in results.items():
        for when in ("init", "best"):
            cells = []
            for region in REGIONS:
                norm = statistics.mean(r[f"{when}_{region}_norm"] for r in rows)
                cos = statistics.mean(r[f"{when}_{region}_cosine"] for r in rows)
                cells.append(f"{norm:8.3f}/{cos:+8.3f}")
            print(f"{variant:13} {when:5} " + " ".join(cells))
    (args.out / "study.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
