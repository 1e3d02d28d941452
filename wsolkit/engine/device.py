"""Device choice, mixed precision and memory format."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from wsolkit.errors import SettingsError


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block on ``count`` intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` → CUDA when present (the local rank's GPU under torchrun), else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SettingsError(
                f"runtime.device = '{name}' but CUDA is not available here; use --device cpu"
            )
        if name == "cuda" and local_rank is not None:
            name = f"cuda:{local_rank}"
        index = torch.device(name).index or 0
        if index >= torch.cuda.device_count():
            raise SettingsError(
                f"runtime.device = '{name}' but only {torch.cuda.device_count()} GPU(s) are visible"
            )
        return torch.device(name)
    if name != "cpu":
        raise SettingsError(f"runtime.device = '{name}': use auto, cpu, cuda or cuda:N")
    return torch.device("cpu")


@dataclass(frozen=True)
class Precision:
    """Autocast settings for one device: ``with precision.autocast(): ...``."""

    device: torch.device
    amp: str  # off | bf16 | fp16

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, or ``None`` when mixed precision is off."""
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.amp)

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Autocast (CUDA, or CPU for bf16) when AMP is on; a no-op otherwise."""
        if self.dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.dtype):
            yield

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A scaler that is active for fp16 only (bf16 and fp32 need none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp == "fp16")


def float32_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """A model's outputs with every floating tensor as float32 (itself when it already is:
    a no-op in float32 training), for the losses computed outside autocast."""
    return {
        key: value.float()
        if isinstance(value, torch.Tensor) and value.is_floating_point()
        else value
        for key, value in outputs.items()
    }


def make_precision(device: torch.device, amp: str) -> Precision:
    """Validate the AMP mode for ``device``: bf16 on CUDA (where the GPU has it) or the
    CPU, fp16 on CUDA only."""
    if amp == "fp16" and device.type != "cuda":
        raise SettingsError(
            f"runtime.amp = 'fp16' needs a CUDA device (running on {device}); use --amp bf16 "
            "(CPU autocast) or --amp off"
        )
    if amp != "off" and device.type not in ("cuda", "cpu"):
        raise SettingsError(f"runtime.amp = '{amp}' is not supported on {device}; use --amp off")
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise SettingsError("runtime.amp = 'bf16' is not supported by this GPU; use --amp fp16")
    return Precision(device, amp)


def check_compile(device: torch.device) -> None:
    """Refuse ``runtime.compile`` with one line when its backend cannot run here.

    torch.compile's inductor backend generates C++ on the CPU (a C++ compiler on the PATH)
    and Triton kernels on CUDA (the ``triton`` package); without them the first forward
    pass would fail deep inside the compiler, after the run started.
    """
    import importlib.util
    import shutil

    if device.type == "cuda" and importlib.util.find_spec("triton") is None:
        raise SettingsError(
            "runtime.compile needs Triton on CUDA (torch.compile's inductor backend): "
            "pip install triton, or drop --compile"
        )
    if device.type == "cpu":
        wanted = os.environ.get("CXX", "").strip()
        names = [wanted] if wanted else ["c++", "g++", "clang++"]
        if not any(shutil.which(name) for name in names):
            raise SettingsError(
                "runtime.compile needs a C++ compiler on the CPU (torch.compile's inductor "
                f"backend; looked for {', '.join(names)} on PATH): install one (e.g. g++), "
                "or drop --compile"
            )
