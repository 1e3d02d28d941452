"""Training throughput and peak memory: backbones × AMP × compile, and the reference code.

Runs real training steps (forward under autocast, every loss term in float32, backward,
SGD step: what ``Trainer._step`` does) on the same random uint8 batch normalized on the
device, so it measures the model and the method, not the data pipeline (that is
``bench_data_path.py``). Prints images/s and peak memory per setting and the ratio to the
first setting of the same backbone, all measured side by side in one run.

``--reference DIR`` also times the reference bridging-gap code's own training step
(``Trainer._wsol_training`` of a checkout of ejkim47/bridging-gap-wsol that you provide,
outside this project: its model under DataParallel, its losses, its SGD, float32, as its
``train()`` loop runs them) on the same device and batch, and prints wsolkit's fp32 ratio
to it. The reference code calls ``.cuda()``; on a CPU it is run with ``.cuda()`` made a
no-op (for trying the script, not for figures).

    python tests/benchmarks/bench_train.py --backbone tiny --size 64 --steps 20
    python tests/benchmarks/bench_train.py --device cuda --backbone vgg16 resnet50 \\
        --batch 64 --size 224 --amp off bf16 --compile off on --reference ../bridging-gap-wsol
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import resource
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import torch

from wsolkit.data.transforms import BatchNormalize
from wsolkit.engine.build import build_model, build_optimizer
from wsolkit.engine.device import float32_outputs, make_precision, resolve_device
from wsolkit.settings import load_settings


def _measure(step: Callable[[], None], args: argparse.Namespace, device) -> tuple[float, float]:
    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process RSS, MiB
    return args.steps * args.batch / (time.perf_counter() - start), peak


def _batch(args: argparse.Namespace, device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (args.batch, 3, args.size, args.size), generator=generator)
    labels = torch.randint(0, args.classes, (args.batch,), generator=generator)
    return raw.to(torch.uint8).to(device), labels.to(device)


def run(args: argparse.Namespace, backbone: str, amp: str, compiled: bool) -> tuple[float, float]:
    """wsolkit: images/s over the timed steps, and peak memory in MiB."""
    device = resolve_device(args.device)
    settings = load_settings(
        overrides={
            "model.backbone": backbone,
            "model.weights": "none",
            "model.large_feature_map": args.large_feature_map,
            "method.name": args.method,
            "runtime.amp": amp,
        }
    )
    torch.manual_seed(0)
    built = build_model(settings, args.classes)
    model = built.model.to(device).train()
    channels_last = device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compiled else model
    optimizer = build_optimizer(settings, built)
    precision = make_precision(device, amp)
    scaler = precision.grad_scaler()
    normalize = BatchNormalize.from_settings(settings.data)
    raw, labels = _batch(args, device)

    def step() -> None:
        images = normalize(raw)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        batch, targets = built.method.prepare_batch(images, labels)
        with precision.autocast():
            outputs = forward(batch, targets.labels) if model.takes_labels else forward(batch)
        outputs = float32_outputs(outputs)
        losses = built.method.losses(outputs, targets, epoch=args.epoch, warm_epochs=0)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        scaler.step(optimizer)
        scaler.update()

    return _measure(step, args, device)


@contextlib.contextmanager
def _cuda_calls_stay_on(device: torch.device) -> Iterator[None]:
    """The reference's ``.cuda()`` calls as no-ops when the device is the CPU."""
    if device.type == "cuda":
        yield
        return
    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    torch.nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved  # type: ignore[method-assign]


def run_reference(args: argparse.Namespace, backbone: str) -> tuple[float, float]:
    """The reference bridging-gap training step (float32, DataParallel, its own losses)."""
    root = Path(args.reference).resolve()
    if not (root / "trainer.py").is_file() or not (root / "wsol").is_dir():
        raise SystemExit(f"--reference {root}: not a bridging-gap-wsol checkout (no trainer.py)")
    device = resolve_device(args.device)
    sys.path.insert(0, str(root))
    if "munch" not in sys.modules and importlib.util.find_spec("munch") is None:
        # imported by its data loaders only; the training step needs none
        sys.modules["munch"] = types.ModuleType("munch")
    try:
        with _cuda_calls_stay_on(device):
            import trainer as reference  # the checkout's trainer.py

            published = {"vgg16": (0.5, 0.1, 4.0, 0.8), "resnet50": (0.5, 0.15, 3.0, 0.8)}
            sim, norm, drop, drop_threshold = published.get(backbone, (0.5, 0.15, 3.0, 0.8))
            ref = object.__new__(reference.Trainer)  # no data loaders: the same batch as ours
            ref.args = SimpleNamespace(
                dataset_name="CUB", architecture=backbone, architecture_type="drop",
                wsol_method="bridging-gap", pretrained=False, large_feature_map=args.large_feature_map,
                drop_threshold=drop_threshold, drop_prob=0.25, lr=1.7e-4, lr_classifier_ratio=10.0,
                momentum=0.9, weight_decay=1e-4, loss_ratio_drop=drop, loss_ratio_sim=sim,
                loss_ratio_norm=norm, sim_fg_thres=0.4, sim_bg_thres=0.2,
            )  # fmt: skip
            reference.Trainer._NUM_CLASSES_MAPPING = {"CUB": args.classes}
            torch.manual_seed(0)
            ref.model = ref._set_model()
            ref.model_multi = torch.nn.DataParallel(ref.model)
            ref.cross_entropy_loss = torch.nn.CrossEntropyLoss()
            ref.l1_loss = torch.nn.L1Loss()
            ref.optimizer = ref._set_optimizer()
            ref.model_multi.train()
            normalize = BatchNormalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
            raw, labels = _batch(args, device)

            def step() -> None:
                images = normalize(raw)
                _, loss = ref._wsol_training(images, labels, warm=False)
                loss.item()  # its loop reads the loss every step
                ref.optimizer.zero_grad()
                loss.backward()
                ref.optimizer.step()

            return _measure(step, args, device)
    finally:
        sys.path.remove(str(root))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", nargs="+", default=["tiny"])
    parser.add_argument("--method", default="aligned-eil")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--amp", nargs="+", default=["off"], choices=["off", "bf16", "fp16"])
    parser.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (compilation)")
    parser.add_argument("--epoch", type=int, default=100, help="past warm-up: every loss term on")
    parser.add_argument("--large-feature-map", action="store_true")
    parser.add_argument("--reference", help="a bridging-gap-wsol checkout (aligned EIL only)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as wsolkit train does on CUDA
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU, {torch.get_num_threads()} threads"
    torch.set_float32_matmul_precision("high")
    print(
        f"{args.method}, batch {args.batch}, {args.size} px, {args.steps} steps after "
        f"{args.warmup} warm-up, on {name}, torch {torch.__version__}"
    )
    for backbone in args.backbone:
        first = None
        rates = {}
        for compiled in args.compile:
            for amp in args.amp:
                ips, peak = run(args, backbone, amp, compiled == "on")
                rates[compiled, amp] = ips
                first = first or ips
                print(
                    f"  {backbone:<12} amp {amp:>4} compile {compiled:>3}: {ips:8.1f} images/s   "
                    f"peak {peak:8.0f} MiB   ×{ips / first:.2f}"
                )
        if args.reference and backbone not in ("vgg16", "resnet50"):
            print(f"  {backbone:<12} (the reference code has vgg16 and resnet50 only)")
        elif args.reference and args.method in ("aligned-eil", "bridging-gap"):
            ips, peak = run_reference(args, backbone)
            ratios = "   ".join(
                f"wsolkit {amp} compile {compiled} / reference ×{rate / ips:.2f}"
                for (compiled, amp), rate in rates.items()
            )
            print(
                f"  {backbone:<12} reference bridging-gap (fp32): {ips:8.1f} images/s   "
                f"peak {peak:8.0f} MiB\n    {ratios}"
            )


if __name__ == "__main__":
    main()
