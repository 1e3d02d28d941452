"""``train()``: the whole job behind ``wsolkit train`` (and ``torchrun -m wsolkit train``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wsolkit.engine.callbacks import Callbacks
from wsolkit.engine.rundir import RunDir, default_run_name
from wsolkit.engine.summary import RunSummary


def train(
    *,
    config: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    resume: Path | None = None,
    callbacks: Callbacks | None = None,
) -> RunSummary | None:
    """Resolve settings, prepare data and the run directory, train and test.

    Returns the summary on rank 0 and ``None`` on the other ranks.
    """
    import torch

    from wsolkit.engine import distributed
    from wsolkit.engine.checkpoint import read_checkpoint
    from wsolkit.engine.device import check_compile, make_precision, resolve_device
    from wsolkit.engine.rundata import check_fingerprints
    from wsolkit.engine.setup import resume_settings
    from wsolkit.engine.trainer import Trainer
    from wsolkit.loggers import LoggingCallbacks, check_loggers
    from wsolkit.settings import dump_settings

    callbacks = callbacks or Callbacks()
    overrides = dict(overrides or {})
    env = distributed.torchrun_env()
    payload = None
    notes: list[str] = []
    if resume is not None:
        run = RunDir.existing(resume)
        settings = resume_settings(run.settings_file, overrides, config)
        payload = read_checkpoint(run.checkpoint("last"))
    else:
        settings = distributed_settings(config, overrides, env, notes)
        run = None
    logger_classes = check_loggers(settings.runtime.loggers)  # every rank fails alike
    device = resolve_device(settings.runtime.device, env.local_rank if env.enabled else None)
    dist_info = distributed.init_distributed(device)
    if logger_classes and dist_info.is_main:  # trackers are fed by rank 0 only
        callbacks = LoggingCallbacks.start(callbacks, logger_classes, settings)
    failure: BaseException | None = None
    try:
        name = settings.runtime.run_name or default_run_name(
            settings.data.dataset or "data", settings.model.backbone, settings.method.name
        )
        if run is None and dist_info.is_main:
            RunDir.check_available(settings.runtime.out_dir, name)
        # Everything that can fail on bad input happens before the run directory is touched.
        precision = make_precision(device, settings.runtime.amp)
        if settings.runtime.compile:
            check_compile(device)
        if device.type == "cuda":  # fixed-size training batches: let cuDNN pick its kernels
            torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
        for note in notes if dist_info.is_main else []:
            callbacks.on_message(f"note: {note}")
        data = _checked_data(settings, dist_info, callbacks)
        if payload is not None:
            note = check_fingerprints(payload.dataset, data, run.path)
            if note and dist_info.is_main:
                callbacks.on_message(f"note: {note}")
        trainer = Trainer(settings, data, dist_info, device, precision, callbacks, payload)
        if run is None:
            if dist_info.is_main:
                RunDir.create(settings.runtime.out_dir, name).write_settings(
                    dump_settings(settings)
                )
            distributed.barrier()
            run = RunDir(Path(settings.runtime.out_dir) / name)
        elif dist_info.is_main:
            run.truncate_metrics(payload.epoch)
            run.write_settings(dump_settings(settings))
        if data.val_ids is not None and dist_info.is_main:
            run.write_val_ids(data.val_ids)
        trainer.callbacks.on_train_start(  # rank 0 only
            {
                "run": str(run.path),
                "device": str(device),
                "processes": dist_info.world_size,
                "amp": settings.runtime.amp,
                "train images": len(data.train),
                "resumed at epoch": payload.epoch if payload else None,
            }
        )
        summary = trainer.fit(run)
        distributed.barrier()  # no rank leaves the group while another still uses it
        return summary
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if isinstance(callbacks, LoggingCallbacks):
            callbacks.close(failure)
        distributed.shutdown()


def distributed_settings(
    config: str | Path | None, overrides: dict[str, Any], env: Any, notes: list[str] | None = None
) -> Any:
    """Resolve the settings; under torchrun rank 0 resolves them (it may generate data) and
    the other ranks receive them."""
    from wsolkit.engine.setup import resolve_settings

    if not env.enabled:
        return resolve_settings(config, overrides, notes)
    from wsolkit.engine.device import resolve_device
    from wsolkit.engine.distributed import broadcast_object, init_distributed
    from wsolkit.settings import Settings, load_settings

    # Every rank reads the device from the same sources (cheap, no data generation), so all
    # pick the same backend: gloo on CPU, NCCL on CUDA. A bad value fails on every rank alike.
    probe = load_settings(config, overrides).runtime.device
    init_distributed(resolve_device(probe, env.local_rank))
    settings = resolve_settings(config, overrides, notes) if env.is_main else None
    dumped = broadcast_object(settings.model_dump(mode="json") if settings is not None else None)
    return Settings(**dumped)  # type: ignore[arg-type]


def _checked_data(settings: Any, dist_info: Any, callbacks: Callbacks) -> Any:
    """The run's data (see :mod:`wsolkit.engine.rundata`): rank 0 checks the images, with a
    progress bar, and every rank leaves out the same unreadable ones."""
    from wsolkit.engine.distributed import broadcast_object
    from wsolkit.engine.rundata import find_bad_images, load_run_data

    def find_bad(source: Any, splits: list[Any]) -> Any:
        found = None
        if dist_info.is_main:
            found = find_bad_images(source, splits, callbacks.progress)
        return broadcast_object(found) if dist_info.enabled else found

    progress = callbacks.progress if dist_info.is_main else None  # the resize cache's build
    data = load_run_data(settings, progress=progress, find_bad=find_bad)
    if data.skipped and dist_info.is_main:
        where = ", ".join(f"{len(bad)} in {name}" for name, bad in data.skipped.items())
        callbacks.on_message(
            f"note: left out {data.skipped_count} unreadable image(s) ({where}); first: "
            f"{next(iter(data.skipped.values()))[0].reason}"
        )
    return data
