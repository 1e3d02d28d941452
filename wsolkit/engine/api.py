"""``train()``: the whole job behind ``wsolkit train`` (and ``torchrun -m wsolkit train``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wsolkit.engine.callbacks import Callbacks
from wsolkit.engine.rundir import RunDir, default_run_name


def train(
    *,
    config: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    resume: Path | None = None,
    callbacks: Callbacks | None = None,
) -> dict[str, Any] | None:
    """Resolve settings, prepare data and the run directory, train and test.

    Returns the summary on rank 0 and ``None`` on the other ranks.
    """
    import torch

    from wsolkit.engine import distributed
    from wsolkit.engine.checkpoint import load_checkpoint
    from wsolkit.engine.device import make_precision, resolve_device
    from wsolkit.engine.setup import resume_settings
    from wsolkit.engine.trainer import Trainer
    from wsolkit.settings import dump_settings

    callbacks = callbacks or Callbacks()
    overrides = dict(overrides or {})
    env = distributed.torchrun_env()
    payload = None
    if resume is not None:
        run = RunDir.existing(resume)
        settings = resume_settings(run.settings_file, overrides)
        payload = load_checkpoint(run.checkpoint("last"))
    else:
        settings = distributed_settings(config, overrides, env)
        run = None
    device = resolve_device(settings.runtime.device, env.local_rank if env.enabled else None)
    dist_info = distributed.init_distributed(device)
    try:
        name = settings.runtime.run_name or default_run_name(
            settings.data.dataset or "data", settings.model.backbone, settings.method.name
        )
        if run is None and dist_info.is_main:
            RunDir.check_available(settings.runtime.out_dir, name)
        # Everything that can fail on bad input happens before the run directory is touched.
        precision = make_precision(device, settings.runtime.amp)
        torch.set_float32_matmul_precision("high")
        data = load_run_data(settings)
        trainer = Trainer(settings, data, dist_info, device, precision, callbacks, payload)
        if run is None:
            if dist_info.is_main:
                RunDir.create(settings.runtime.out_dir, name).write_settings(
                    dump_settings(settings)
                )
            distributed.barrier()
            run = RunDir(Path(settings.runtime.out_dir) / name)
        elif dist_info.is_main:
            run.truncate_metrics(payload["epoch"])
            run.write_settings(dump_settings(settings))
        trainer.callbacks.on_train_start(  # rank 0 only
            {
                "run": str(run.path),
                "device": str(device),
                "processes": dist_info.world_size,
                "amp": settings.runtime.amp,
                "train images": len(data.train),
                "resumed at epoch": payload["epoch"] if payload else None,
            }
        )
        summary = trainer.fit(run)
        distributed.barrier()  # no rank leaves the group while another still uses it
        return summary
    finally:
        distributed.shutdown()


def distributed_settings(config: str | Path | None, overrides: dict[str, Any], env: Any) -> Any:
    """Resolve the settings; under torchrun rank 0 resolves them (it may generate data) and
    the other ranks receive them."""
    from wsolkit.engine.setup import resolve_settings

    if not env.enabled:
        return resolve_settings(config, overrides)
    from wsolkit.engine.device import resolve_device
    from wsolkit.engine.distributed import broadcast_object, init_distributed
    from wsolkit.settings import Settings, load_settings

    # Every rank reads the device from the same sources (cheap, no data generation), so all
    # pick the same backend: gloo on CPU, NCCL on CUDA. A bad value fails on every rank alike.
    probe = load_settings(config, overrides).runtime.device
    init_distributed(resolve_device(probe, env.local_rank))
    settings = resolve_settings(config, overrides) if env.is_main else None
    dumped = broadcast_object(settings.model_dump(mode="json") if settings is not None else None)
    return Settings(**dumped)  # type: ignore[arg-type]


def load_run_data(settings: Any) -> Any:
    """The data source, the train dataset and the evaluation splits that exist."""
    from wsolkit.data.source import DataSource
    from wsolkit.engine.trainer import RunData

    d = settings.data
    source = DataSource.from_settings(d)
    train_ds = source.torch_dataset(d.train_split, train=True)
    present = set(source.splits)
    val = (
        (source.split(d.val_split), source.torch_dataset(d.val_split, train=False))
        if d.val_split in present
        else (None, None)
    )
    test = (
        (source.split(d.test_split), source.torch_dataset(d.test_split, train=False))
        if d.test_split in present
        else (None, None)
    )
    return RunData(source, train_ds, val[1], test[1], val[0], test[0])
