"""Typed settings, one model per concern.

These models are the single source of defaults, allowed ranges and
documentation: CLI flags, ``WSOLKIT_*`` environment variables and YAML keys map
onto them by name (``optim.lr`` ⇔ ``WSOLKIT_OPTIM__LR`` ⇔ ``optim: {lr: …}``).
The defaults are the published CUB/VGG16 aligned-EIL recipe (SPEC.md §4) where
one exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wsolkit.settings.protocol import (
    DEFAULT_CAM_CURVE_INTERVAL,
    DEFAULT_EVAL_SIZE,
    DEFAULT_IOU_THRESHOLDS,
    DEFAULT_MULTI_CONTOUR,
    CamCurveInterval,
    EvalSize,
    IouThresholds,
    MultiContour,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataSettings(_Section):
    """Which data to read and how images become tensors."""

    dataset: str | None = Field(
        None,
        description="Registered dataset name (see `wsolkit list datasets`); sets the dataset's "
        "defaults. Empty: the embedded synthetic benchmark.",
    )
    root: Path | None = Field(
        None,
        description="Prepared dataset folder (made by `wsolkit prepare`, holds dataset.yaml) or a "
        "wsolevaluation metadata folder with train/ val/ test/ inside.",
    )
    image_root: Path | None = Field(
        None, description="Folder the image paths in the metadata are relative to."
    )
    mask_root: Path | None = Field(
        None, description="Folder the mask paths of a mask dataset are relative to."
    )
    train_split: str = Field("train", description="Metadata split used for training.")
    val_split: str = Field("val", description="Split that picks checkpoints (train-fullsup).")
    test_split: str = Field("test", description="Split of the final evaluation.")
    use_proxy: bool = Field(False, description="Train on image_ids_proxy.txt (a smaller subset).")
    num_classes: int | None = Field(None, ge=1, description="Number of classes (default: dataset).")
    resize_size: int = Field(
        256, ge=8, le=4096, description="Training resize (square) before crop."
    )
    crop_size: int = Field(224, ge=8, le=4096, description="Training random-crop size.")
    eval_size: EvalSize = DEFAULT_EVAL_SIZE
    mean: tuple[float, float, float] = Field(IMAGENET_MEAN, description="Normalization mean (RGB).")
    std: tuple[float, float, float] = Field(IMAGENET_STD, description="Normalization std (RGB).")
    hflip: bool = Field(True, description="Random horizontal flip when training.")
    cache_images: bool = Field(
        False,
        description="Keep decoded images in memory after their first read (small datasets).",
    )
    resize_cache: bool = Field(
        False,
        description="Decode and resize the training images once into a memory-mapped uint8 "
        "file in the cache folder (resize² × 3 bytes per image; bit-identical batches); the "
        "workers then only crop and flip.",
    )
    drop_last: bool = Field(
        False, description="Drop the last incomplete training batch of every epoch."
    )
    skip_bad_images: bool = Field(
        False, description="Log and skip unreadable images instead of stopping (counted)."
    )
    val_per_class: int | None = Field(
        None,
        ge=1,
        description="Keep this many images per class of the val split (drawn with runtime.seed; "
        "the ids are written to the run's val_ids.txt). wsolevaluation's protocol: 10 ImageNet, "
        "5 CUB, 5 OpenImages. Empty: every val image.",
    )
    val_boxes: dict[str, Path] = Field(
        default_factory=dict,
        description="Further box sets of the val split, NAME: DIR with a localization.txt "
        "(pseudo-boxes); validation reports every metric per set.",
    )
    check_images: bool = Field(
        True,
        description="Before training, check that every image of every split exists and its "
        "header reads (a few seconds per 10,000 images).",
    )

    @field_validator("std")
    @classmethod
    def _positive_std(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(x <= 0 for x in v):
            raise ValueError("every std value must be > 0")
        return v


class ModelSettings(_Section):
    """The backbone network."""

    backbone: str = Field(
        "vgg16", description="Registered backbone (see `wsolkit list backbones`)."
    )
    weights: str = Field(
        "imagenet",
        description="'imagenet' (torchvision weights from the local torch cache), 'none' "
        "(from scratch), weights shipped with a backbone by name ('synthetic-pretrained' for "
        "tiny; see `wsolkit list backbones --json`) or a path to a torchvision state-dict file.",
    )
    large_feature_map: bool = Field(
        False, description="28×28 instead of 14×14 last feature map at 224 input."
    )
    drop_path_rate: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Stochastic depth of backbones that have it (vision transformers; TS-CAM "
        "trains DeiT-S with 0.1); 0 for the others.",
    )


class MethodSettings(BaseModel):
    """The WSOL method; every other key is one of the method's hyperparameters.

    Hyperparameters are validated by the method's own model once it is loaded
    (``wsolkit list methods --json`` shows them with their ranges).
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    name: str = Field("aligned-eil", description="Registered method (see `wsolkit list methods`).")

    @property
    def params(self) -> dict[str, object]:
        """The hyperparameters given (everything but ``name``)."""
        return dict(self.model_extra or {})


class OptimSettings(_Section):
    """Optimizer and schedule (SPEC.md §3–§4)."""

    epochs: int = Field(70, ge=1, le=100_000, description="Training epochs.")
    batch_size: int = Field(64, ge=1, description="Batch size per process after warm-up.")
    warm_epochs: int = Field(
        20, ge=0, description="Epochs of warm-up (aligned EIL: no L_sim/L_norm; warm batch size)."
    )
    warm_batch_size: int = Field(32, ge=1, description="Batch size during warm-up.")
    lr: float = Field(0.004, gt=0, le=10, description="Base learning rate (pretrained group).")
    lr_classifier_ratio: float = Field(
        5.0, gt=0, le=1000, description="Learning-rate multiplier of the new layers' group."
    )
    classifier_groups: Literal["bridging-gap", "wsolevaluation"] = Field(
        "bridging-gap",
        description="Which parameters get the classifier rate: bridging-gap (ResNet: fc only) or "
        "wsolevaluation (ResNet: layer4 and fc).",
    )
    optimizer: Literal["sgd", "adamw"] = Field(
        "sgd",
        description="sgd (momentum, nesterov; weight decay on every parameter, as the CNN "
        "recipes) or adamw (betas, eps; no weight decay on biases, norms, position embeddings "
        "and class tokens: timm's convention, the transformer recipes).",
    )
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum.")
    nesterov: bool = Field(True, description="Nesterov momentum.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW's betas.")
    eps: float = Field(1e-8, gt=0, le=1, description="AdamW's epsilon.")
    weight_decay: float = Field(5e-4, ge=0, le=1, description="Weight decay (L2 for SGD).")
    lr_schedule: Literal["points", "frequency", "onecycle", "cosine", "step"] = Field(
        "points",
        description="points: multiply by lr_decay_rate at each epoch in lr_decay_points; "
        "frequency: every lr_decay_frequency epochs; onecycle: one-cycle (synthetic recipe); "
        "cosine: per epoch from lr to min_lr; step: lr × lr_decay_rate^(epoch // "
        "lr_decay_frequency). cosine and step start with lr_warmup_epochs of linear warm-up.",
    )
    lr_warmup_epochs: int = Field(
        0, ge=0, description="Epochs of linear warm-up from lr_warmup_init (cosine, step)."
    )
    lr_warmup_init: float = Field(
        1e-6, ge=0, le=10, description="Learning rate of epoch 1 of the warm-up (cosine, step)."
    )
    min_lr: float = Field(1e-5, ge=0, le=10, description="Where cosine ends.")
    lr_decay_points: list[int] = Field(
        [41, 61], description="1-indexed epochs at whose start the learning rate decays."
    )
    lr_decay_rate: float = Field(0.2, gt=0, le=1, description="Decay factor.")
    lr_decay_frequency: int = Field(30, ge=1, description="Decay period for lr_schedule=frequency.")
    onecycle_warmup: float = Field(
        0.15, gt=0, lt=1, description="Share of steps rising to the peak lr (onecycle)."
    )

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError("both betas must be in [0, 1)")
        return v

    @field_validator("lr_decay_points")
    @classmethod
    def _positive_points(cls, v: list[int]) -> list[int]:
        if any(p < 1 for p in v):
            raise ValueError("lr_decay_points are 1-indexed epochs: every value must be >= 1")
        return sorted(v)


class EvalSettings(_Section):
    """Localization evaluation protocol (SPEC.md §2; the fields are :class:`EvalProtocol`'s,
    with ``data.eval_size``) and how often training validates."""

    cam_curve_interval: CamCurveInterval = DEFAULT_CAM_CURVE_INTERVAL
    iou_thresholds: IouThresholds = DEFAULT_IOU_THRESHOLDS
    multi_contour: MultiContour = DEFAULT_MULTI_CONTOUR
    eval_interval: int = Field(1, ge=1, description="Validate every N epochs (and at the last).")
    select_by: str = Field(
        "gt",
        description="Which val boxes choose the best checkpoint: gt (the split's own) or a "
        "name of data.val_boxes.",
    )
    every_epoch_after_first_decay: bool = Field(
        False,
        description="Also validate every epoch from the first learning-rate decay on "
        "(bridging-gap's rule: the best checkpoint is chosen among the same epochs).",
    )


class RuntimeSettings(_Section):
    """Where and how the job runs."""

    device: str = Field("auto", description="'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:N'.")
    amp: Literal["off", "bf16", "fp16"] = Field(
        "off",
        description="Mixed precision: bf16 (CUDA, or CPU autocast) or fp16 (CUDA only, with a "
        "gradient scaler); the losses that need float32 stay in float32.",
    )
    channels_last: bool = Field(True, description="channels-last memory format on CUDA.")
    compile: bool = Field(
        False, description="torch.compile the model (inductor; needs a C++ compiler on CPU)."
    )
    seed: int = Field(0, ge=0, description="Seed of every random generator.")
    workers: int | None = Field(
        None,
        ge=0,
        le=256,
        description="DataLoader worker processes per process (default: the cores available "
        "to each process, at most 8).",
    )
    persistent_workers: bool = Field(True, description="Keep DataLoader workers between epochs.")
    prefetch_factor: int = Field(
        4, ge=1, le=64, description="Batches each DataLoader worker prepares ahead."
    )
    pin_memory: bool = Field(True, description="Pinned host memory for CUDA transfers.")
    loggers: list[str] = Field(
        default_factory=list,
        description="Run trackers fed beside metrics.jsonl (wsolkit.loggers entry points: "
        "tensorboard, mlflow); rank 0 only.",
    )
    out_dir: Path = Field(Path("runs"), description="Folder that receives run directories.")
    run_name: str | None = Field(
        None,
        description="Run directory name inside out_dir (default: generated); a plain name, "
        "without path separators.",
    )
    quiet: bool = Field(False, description="Logs only, no progress bars.")

    @field_validator("run_name")
    @classmethod
    def _plain_name(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.strip() or v in (".", "..") or any(c in v for c in "/\\\0"):
            raise ValueError(
                "a run name is one folder name inside runtime.out_dir: no '/', '\\', '..' "
                "or empty name (use --out-dir to choose where runs go)"
            )
        return v
