"""Images/s of each score-map extractor on ResNet50 at 224 px, beside pytorch-grad-cam 1.5.7.

Both run on the same model (wsolkit's ResNet50 CAM network, random weights, eval mode)
and the same random images, one after the other in this process, on ``--device``:

- wsolkit: ``extractor.extract(method, model, images, labels, stage=…)``, the raw maps at
  the stage's resolution left on the device (what ``export-cams`` computes per batch; the
  store's writer thread does the rest);
- pytorch-grad-cam: ``CAM(model, target_layers=[…])(input_tensor, targets)``, which also
  min-max scales the maps and resizes them to the input on the CPU (its only output).

Score-CAM runs one forward pass per channel of the stage (1024 at ``layer3.5``, 2048 at
``layer4.2``) for every image; it is timed on ``--score-cam-images`` images, or left out
with ``--skip score-cam``. Examples::

    python tests/benchmarks/bench_extractors.py --device cpu --images 8 --batch 4
    python tests/benchmarks/bench_extractors.py --device cuda --images 256 --batch 64
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from wsolkit.registry import backbones, extractors, methods

# (wsolkit extractor, pytorch-grad-cam class name, stage)
PAIRS: tuple[tuple[str, str | None, str], ...] = (
    ("cam", None, "layer4.2"),
    ("grad-cam", "GradCAM", "layer4.2"),
    ("grad-cam++", "GradCAMPlusPlus", "layer4.2"),
    ("xgrad-cam", "XGradCAM", "layer4.2"),
    ("layer-cam", "LayerCAM", "layer4.2"),
    ("eigen-cam", "EigenCAM", "layer4.2"),
    ("bagcams", None, "layer3.5"),
    ("score-cam", "ScoreCAM", "layer4.2"),
)


class Logits(nn.Module):
    """wsolkit's model as pytorch-grad-cam expects one: images in, logits out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.infer(images)[0]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(run: Callable[[torch.Tensor, torch.Tensor], object], images, labels, batch, device):
    """Seconds for every batch (after one warm-up batch)."""
    run(images[:batch], labels[:batch])
    _sync(device)
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        run(images[i : i + batch], labels[i : i + batch])
    _sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--score-cam-images", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], help="extractors to leave out")
    parser.add_argument("--no-reference", action="store_true", help="wsolkit only")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    method = methods.create("cam")
    model = method.build(backbones.create("resnet50", num_classes=200, weights="none"))
    model = model.to(device).eval()
    images = torch.randn(args.images, 3, 224, 224, device=device)
    labels = torch.randint(0, 200, (args.images,), device=device)
    reference = None
    if not args.no_reference:
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        reference = pytorch_grad_cam
        wrapped = Logits(model).eval()

    print(f"ResNet50, 224 px, {device}, batch {args.batch}, torch {torch.__version__}")
    print(
        f"{'extractor':12s} {'stage':9s} {'wsolkit img/s':>14s} {'grad-cam img/s':>15s} {'ratio':>7s}"
    )
    for name, ref_name, stage in PAIRS:
        if name in args.skip:
            continue
        count = args.score_cam_images if name == "score-cam" else args.images
        batch = min(args.batch, count)
        x, y = images[:count], labels[:count]
        extractor = extractors.create(name)
        chosen = None if name == "cam" else stage

        def ours(xb, yb, extractor=extractor, chosen=chosen):
            with torch.inference_mode():
                return extractor.extract(method, model, xb, yb, stage=chosen)

        ours_s = timed(ours, x, y, batch, device)
        line = f"{name:12s} {stage:9s} {count / ours_s:14.2f}"
        if reference is not None and ref_name is not None:
            layer = model.backbone.stage(stage)
            cam = getattr(reference, ref_name)(model=wrapped, target_layers=[layer])
            if name == "score-cam":
                cam.batch_size = 64

            def theirs(xb, yb, cam=cam):
                targets = [ClassifierOutputTarget(int(c)) for c in yb]
                return cam(input_tensor=xb, targets=targets)

            theirs_s = timed(theirs, x, y, batch, device)
            line += f" {count / theirs_s:15.2f} {theirs_s / ours_s:6.2f}×"
        print(line, flush=True)


if __name__ == "__main__":
    main()
