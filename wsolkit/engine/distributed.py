"""PyTorch's own distributed engine: torchrun environment, DDP helpers, reductions.

``torchrun --nproc-per-node N -m wsolkit train …`` sets ``RANK``, ``WORLD_SIZE``
and ``LOCAL_RANK``; :func:`init_distributed` picks NCCL on CUDA and gloo on CPU.
Only rank 0 logs, writes checkpoints and shows progress.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1  # processes on this node (torchrun's LOCAL_WORLD_SIZE)

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and writes."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def torchrun_env() -> DistInfo:
    """Read the torchrun environment (a single process when it is absent)."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo()
    return DistInfo(
        int(os.environ["RANK"]),
        int(os.environ["WORLD_SIZE"]),
        int(os.environ.get("LOCAL_RANK", os.environ["RANK"])),
        int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"])),
    )


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun; no-op otherwise."""
    info = torchrun_env()
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return info


def shutdown() -> None:
    """Leave the process group."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def world_size() -> int:
    """Processes in the job (1 outside torchrun)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_reduce_sum(array: np.ndarray, device: torch.device) -> np.ndarray:
    """Sum a NumPy array over ranks (float64 or int64 kept exact)."""
    if not (dist.is_available() and dist.is_initialized()):
        return array
    array = np.asarray(array)
    tensor = torch.from_numpy(array.reshape(-1).copy()).to(device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().numpy().reshape(array.shape)  # 0-d counts stay 0-d


def sync_buffers(module: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics) before evaluating.

    DDP broadcasts buffers at the start of each training forward, so after the last
    step every rank holds its own running statistics; evaluating the unwrapped module
    on each shard would then mix models. No-op in a single process.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)


def broadcast_object(obj: object, src: int = 0) -> object:
    """Send a picklable object from ``src`` to every rank."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def launch_command(nproc: int, argv: list[str]) -> list[str]:
    """The torchrun command line that ``wsolkit train --nproc N`` runs (``argv`` without it)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "wsolkit",
        *argv,
    ]
