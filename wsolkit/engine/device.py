"""Device choice, mixed precision and memory format."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from wsolkit.errors import SettingsError


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
        """Autocast on CUDA when AMP is on; a no-op otherwise."""
        if self.dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.dtype):
            yield

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A scaler that is active for fp16 only (bf16 and fp32 need none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp == "fp16")


def make_precision(device: torch.device, amp: str) -> Precision:
    """Validate the AMP mode for ``device``."""
    if amp != "off" and device.type != "cuda":
        raise SettingsError(
            f"runtime.amp = '{amp}' needs a CUDA device (running on {device}); use --amp off"
        )
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        raise SettingsError("runtime.amp = 'bf16' is not supported by this GPU; use --amp fp16")
    return Precision(device, amp)
