"""Training throughput and peak memory of one backbone × method × batch × AMP setting.

Runs real training steps (forward, every loss term, backward, SGD step) on random
tensors, so it measures the model and the method, not the data pipeline. Prints
images/s and peak memory per setting and, with several --amp values, the ratios
to the first one, all measured side by side in one run.

    python tests/benchmarks/bench_train.py --backbone tiny --method aligned-eil \\
        --batch 64 --size 64 --amp off --steps 20
    python tests/benchmarks/bench_train.py --backbone vgg16 --method aligned-eil \\
        --batch 64 --size 224 --amp off bf16 --device cuda
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from wsolkit.engine.build import build_model, build_optimizer
from wsolkit.engine.device import make_precision, resolve_device
from wsolkit.settings import load_settings


def run(args: argparse.Namespace, amp: str) -> tuple[float, float]:
    """Images/s over the timed steps, and peak memory in MiB."""
    device = resolve_device(args.device)
    settings = load_settings(
        overrides={
            "model.backbone": args.backbone,
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
    optimizer = build_optimizer(settings, built)
    precision = make_precision(device, amp)
    scaler = precision.grad_scaler()
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, args.classes, (args.batch,), device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> None:
        batch, targets = built.method.prepare_batch(images, labels)
        with precision.autocast():
            losses = built.method.losses(model(batch), targets, epoch=args.epoch, warm_epochs=0)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process RSS, MiB
    return args.steps * args.batch / (time.perf_counter() - start), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--method", default="aligned-eil")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--amp", nargs="+", default=["off"], choices=["off", "bf16", "fp16"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--epoch", type=int, default=100, help="past warm-up: every loss term on")
    parser.add_argument("--large-feature-map", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"{args.backbone} + {args.method}, batch {args.batch}, {args.size} px, {args.steps} steps "
        f"after {args.warmup} warm-up, on {name}, torch {torch.__version__}"
    )
    first = None
    for amp in args.amp:
        ips, peak = run(args, amp)
        first = first or ips
        print(
            f"  amp {amp:>4}: {ips:8.1f} images/s   peak memory {peak:8.0f} MiB   ×{ips / first:.2f}"
        )


if __name__ == "__main__":
    main()
