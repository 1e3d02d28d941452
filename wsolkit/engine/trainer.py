"""The training loop of SPEC.md §3–§4, resumable at epoch boundaries, on one or many GPUs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from wsolkit.data.dataset import SkippedImages
from wsolkit.data.transforms import BatchNormalize
from wsolkit.engine import build as builders
from wsolkit.engine.callbacks import Callbacks
from wsolkit.engine.checkpoint import Checkpoint, DatasetInfo, read_checkpoint, save_checkpoint
from wsolkit.engine.device import Precision, float32_outputs
from wsolkit.engine.distributed import DistInfo, all_reduce_sum, barrier
from wsolkit.engine.evaluation import EvalContext, evaluate
from wsolkit.engine.rng import epoch_seed, seed_everything
from wsolkit.engine.rundata import RunData
from wsolkit.engine.rundir import RunDir
from wsolkit.engine.schedule import Schedule, apply_lr
from wsolkit.engine.summary import RunSummary
from wsolkit.errors import WsolkitError
from wsolkit.io import DiskWriteError
from wsolkit.metrics.scores import SplitScores, Taus
from wsolkit.settings import Settings


@dataclass
class TrainState:
    """Everything that changes from epoch to epoch (and goes into checkpoints)."""

    epoch: int = 0  # epochs completed
    best_score: float | None = None
    best_epoch: int | None = None
    best_taus: dict[str, Any] | None = None  # val's best thresholds at the best epoch
    val_taus: dict[str, Any] | None = None  # … at the latest validation
    skipped_images: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Train, validate, checkpoint; ``fit()`` returns the final summary (rank 0)."""

    def __init__(
        self,
        settings: Settings,
        data: RunData,
        dist_info: DistInfo,
        device: torch.device,
        precision: Precision,
        callbacks: Callbacks,
        resume: Checkpoint | None = None,
    ) -> None:
        self.settings, self.data = settings, data
        self.run: RunDir | None = None
        self.dist, self.device, self.precision = dist_info, device, precision
        self.callbacks = callbacks if dist_info.is_main else Callbacks()
        self.channels_last = settings.runtime.channels_last and device.type == "cuda"
        self.normalize = BatchNormalize.from_settings(settings.data)  # uint8 batches, on device
        seed_everything(settings.runtime.seed)
        self.built = builders.build_model(
            settings, data.source.num_classes, weights="none" if resume else None
        )
        self.model = self.built.model.to(device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = builders.build_optimizer(settings, self.built)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.scaler = precision.grad_scaler()
        self.state = TrainState()
        self.skipped = SkippedImages()
        for images in data.skipped.values():  # found unreadable before training, left out
            self.skipped.images.update((bad.image_id, bad) for bad in images)
        if resume is not None:
            self._load(resume)
        self.ddp = (
            DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None
            )
            if dist_info.enabled
            else self.model
        )
        if settings.runtime.compile:  # checkpoints keep saving self.model's plain keys
            self.ddp = torch.compile(self.ddp)
        pin = settings.runtime.pin_memory and device.type == "cuda"
        o = settings.optim
        self._loaders = {
            bs: builders.train_loader(data.train, settings, dist_info, bs, pin)
            for bs in {o.batch_size, o.warm_batch_size if o.warm_epochs > 0 else o.batch_size}
        }
        self.schedule = Schedule(o, tuple(len(self._loader(e)[0]) for e in range(o.epochs)))
        self._eval_loaders = {
            name: builders.eval_loader(ds, settings, dist_info, pin)
            for name, ds in (("val", data.val), ("test", data.test))
            if ds is not None
        }

    # -- state -----------------------------------------------------------------
    def _loader(self, epoch: int) -> tuple[Any, Any]:
        o = self.settings.optim
        warm = o.warm_epochs > 0 and epoch < o.warm_epochs
        return self._loaders[o.warm_batch_size if warm else o.batch_size]

    def _checkpoint(self) -> Checkpoint:
        return Checkpoint(
            settings=self.settings.model_dump(mode="json"),
            epoch=self.state.epoch,
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scaler=self.scaler.state_dict(),
            best_score=self.state.best_score,
            best_epoch=self.state.best_epoch,
            best_taus=self.state.best_taus,
            val_taus=self.state.val_taus,
            skipped_images=self.state.skipped_images,
            dataset=DatasetInfo(
                self.data.source.num_classes,
                list(self.data.source.class_names),
                dict(self.data.fingerprints),
            ),
        )

    def _load(self, checkpoint: Checkpoint) -> None:
        if checkpoint.optimizer is None or checkpoint.scaler is None:
            raise WsolkitError(
                "the checkpoint holds weights only (no optimizer state): it cannot be resumed"
            )
        self.model.load_state_dict(checkpoint.model)
        self.optimizer.load_state_dict(checkpoint.optimizer)
        self.scaler.load_state_dict(checkpoint.scaler)
        self.state.epoch = checkpoint.epoch
        self.state.best_score = checkpoint.best_score
        self.state.best_epoch = checkpoint.best_epoch
        self.state.best_taus = checkpoint.best_taus
        self.state.val_taus = checkpoint.val_taus
        self.state.skipped_images = checkpoint.skipped_images

    def _save(self, name: str) -> None:
        if self.dist.is_main and self.run is not None:
            save_checkpoint(self.run.checkpoint(name), self._checkpoint(), what="checkpoint")

    # -- loop ------------------------------------------------------------------
    def fit(self, run: RunDir) -> RunSummary | None:
        """Train from the current epoch to the last in ``run``; then test best and last."""
        self.run = run
        o = self.settings.optim
        start = time.perf_counter()
        if self.state.epoch == 0:
            self._save("last")  # a resumable point exists from the very start
        try:
            for epoch in range(self.state.epoch, o.epochs):
                record = self._train_epoch(epoch)
                self.state.epoch = epoch + 1
                self._maybe_validate(record)
                self._save("last")
                if self.dist.is_main:
                    self.run.append_metrics(record)
                    self.callbacks.on_epoch_end(record)
                barrier()
        except KeyboardInterrupt:
            raise Interrupted(run, self.state.epoch) from None
        except DiskWriteError as exc:  # the last checkpoint written is intact: say how to go on
            raise DiskWriteError(
                exc.path,
                exc.errno,
                fix=f"free space, then continue with: wsolkit train --resume {run.path}",
            ) from None
        return self._finish(time.perf_counter() - start)

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        loader, sampler = self._loader(epoch)
        sampler.set_epoch(epoch)
        seed_everything(epoch_seed(self.settings.runtime.seed, epoch, self.dist.rank))
        steps = len(loader)
        self.callbacks.on_epoch_start(epoch + 1, self.settings.optim.epochs, steps)
        self.ddp.train()
        sums: dict[str, float] = {}
        seen = correct = 0
        t0 = time.perf_counter()
        lrs = apply_lr(self.optimizer, self.schedule.lrs(self.base_lrs, epoch, 0))
        for step, batch in enumerate(loader):
            self.skipped.add(batch)
            if not batch.image_ids:
                continue  # every image of this batch was unreadable (--skip-bad-images)
            images, labels = batch.images, batch.labels
            if self.schedule.per_step:
                lrs = apply_lr(self.optimizer, self.schedule.lrs(self.base_lrs, epoch, step))
            terms, logits, labels = self._step(images, labels, epoch)
            n = len(labels)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * n
            seen += n
            correct += int((logits.argmax(1) == labels).sum())
            elapsed = time.perf_counter() - t0
            self.callbacks.on_step(
                step + 1,
                {k: v / seen for k, v in sums.items()},
                100.0 * correct / seen,
                seen * self.dist.world_size / max(elapsed, 1e-9),
            )
        elapsed = time.perf_counter() - t0
        self.state.skipped_images = max(self.state.skipped_images, self.skipped.count)
        # Reduce over ranks: the record describes the whole job, not rank 0's shard.
        names = sorted(sums)
        totals = all_reduce_sum(
            np.array([seen, correct, *(sums[k] for k in names)], dtype=np.float64), self.device
        )
        seen_all = max(totals[0], 1.0)
        return {
            "kind": "epoch",
            "epoch": epoch + 1,
            "lr": lrs,
            "batch_size": loader.batch_size,
            "train_loss": {k: float(totals[2 + i] / seen_all) for i, k in enumerate(names)},
            "train_top1": float(100.0 * totals[1] / seen_all),
            "images_per_s": float(totals[0] / max(elapsed, 1e-9)),
            "time_s": elapsed,
        }

    def _step(
        self, images: torch.Tensor, labels: torch.Tensor, epoch: int
    ) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
        images = self.normalize(images.to(self.device, non_blocking=True))
        labels = labels.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        images, targets = self.built.method.prepare_batch(images, labels)
        with self.precision.autocast():
            if self.built.model.takes_labels:  # e.g. ACoL erases the labelled class's region
                outputs = self.ddp(images, targets.labels)
            else:
                outputs = self.ddp(images)
        # The losses in float32 outside autocast (a no-op in float32 training): the alignment
        # terms, the CAM normalizations and the thresholds of ACoL/SPG need its precision.
        outputs = float32_outputs(outputs)
        losses = self.built.method.losses(
            outputs, targets, epoch=epoch, warm_epochs=self.settings.optim.warm_epochs
        )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses["total"]).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        terms = {k: float(v.detach()) for k, v in losses.items()}
        return terms, outputs["logits"].detach(), labels

    # -- validation and test -----------------------------------------------------
    def _context(self, meta: Any) -> EvalContext:
        return EvalContext(
            self.settings.protocol,
            meta,
            self.data.source.mask_root,
            self.device,
            self.precision,
            self.channels_last,
            self.normalize,
        )

    def _maybe_validate(self, record: dict[str, Any]) -> None:
        epoch, o, e = self.state.epoch, self.settings.optim, self.settings.eval
        first_decay = self.schedule.first_decay_epoch
        after_decay = first_decay is not None and epoch >= first_decay
        due = (
            epoch % e.eval_interval == 0
            or epoch == o.epochs
            or (e.every_epoch_after_first_decay and after_decay)
        )
        if self.data.val is None or not due:
            return
        result = evaluate(
            self.built.method,
            self.model,
            self._eval_loaders["val"],
            self._context(self.data.val_meta),
            self.callbacks,
            "val",
            self.dist.is_main,
            box_sets=self.data.val_box_sets,
        )
        record["val"] = result.to_json()
        taus = Taus.from_scores(result, source="val").model_dump(mode="json")
        record["val_tau"] = taus
        self.state.val_taus = taus
        score = result.selection_score(e.select_by)
        # Ties keep the earliest epoch (SPEC.md §2.9).
        if score is not None and (self.state.best_score is None or score > self.state.best_score):
            self.state.best_score, self.state.best_epoch = score, epoch
            self.state.best_taus = taus
            record["is_best"] = True
            self._save("best")

    def _finish(self, train_time: float) -> RunSummary | None:
        results: dict[str, SplitScores] = {}
        if self.data.test is not None:
            results["last"] = self._test("last")
            best_path = self.run.checkpoint("best")
            if self.state.best_epoch == self.state.epoch:
                results["best"] = results["last"]  # the same weights: no second evaluation
            elif best_path.exists():
                self.model.load_state_dict(read_checkpoint(best_path).model)
                results["best"] = self._test("best")
        if not self.dist.is_main:
            return None
        summary = RunSummary(
            run_dir=str(self.run.path),
            settings=self.settings.model_dump(mode="json"),
            epochs=self.state.epoch,
            best_epoch=self.state.best_epoch,
            best_val_score=self.state.best_score,
            best_val_tau=self.state.best_taus,
            selected_by=self.settings.eval.select_by,
            test=results,
            train_time_s=train_time,
            skipped_images=self.state.skipped_images,
            world_size=self.dist.world_size,
        )
        for kind, result in results.items():
            self.run.append_metrics({"kind": "test", "checkpoint": kind, **result.to_json()})
        self.run.write_summary(summary)
        return summary

    def _test(self, checkpoint: str) -> SplitScores:
        taus = self.state.best_taus if checkpoint == "best" else self.state.val_taus
        return evaluate(
            self.built.method,
            self.model,
            self._eval_loaders["test"],
            self._context(self.data.test_meta),
            self.callbacks,
            f"test ({checkpoint})",
            self.dist.is_main,
            curves=True,
            taus=Taus.model_validate(taus) if taus else None,
        )


class Interrupted(WsolkitError):
    """Ctrl-C: the last completed epoch is saved; the message says how to resume."""

    exit_code = 130

    def __init__(self, run: RunDir, epoch: int) -> None:
        super().__init__(
            f"interrupted; {run.checkpoint('last')} holds epoch {epoch}. "
            f"Continue with: wsolkit train --resume {run.path}"
        )
