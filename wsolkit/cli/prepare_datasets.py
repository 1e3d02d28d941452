"""``wsolkit prepare cub|imagenet|openimages|folder``.

Each command parses its options, calls the converter in
:mod:`wsolkit.data.prepare` and prints the summary; the converters raise
:class:`~wsolkit.errors.WsolkitError` for anything the user can fix, which the
root group prints as one red line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from wsolkit.cli._app import command_app, out_console
from wsolkit.cli._bars import progress_bar
from wsolkit.cli._summary import show_summary

if TYPE_CHECKING:
    from wsolkit.data.spec import PrepareSummary

app = command_app()

OUT = typer.Option(
    None,
    "--out",
    "-o",
    help="Folder to write (split folders + dataset.yaml). [default: ROOT/wsolkit]",
    show_default=False,
)
OVERWRITE = typer.Option(
    False, "--overwrite", help="Replace a dataset already prepared in the output folder."
)
SKIP_BAD = typer.Option(
    False,
    "--skip-bad-images",
    help="Leave out images whose header cannot be read (counted in the summary) instead of "
    "stopping at the first one.",
)
WORKERS = typer.Option(8, "--workers", min=1, max=256, help="Threads that read image sizes.")
JSON = typer.Option(False, "--json", help="Print the summary as JSON instead of a table.")
SEED = typer.Option(0, "--seed", min=0, help="Seed of the split draw (same seed, same split).")


def _render(summary: PrepareSummary, as_json: bool) -> None:
    show_summary(summary, as_json=as_json)
    if as_json:
        return
    out_console.print(f"[green]prepared[/] {summary.out_dir} (use it as data.root)")


@app.command("cub")
def cub(
    root: Path = typer.Argument(
        ...,
        help="The CUB_200_2011 folder as distributed: images/, images.txt, "
        "image_class_labels.txt, train_test_split.txt, bounding_boxes.txt.",
        show_default=False,
    ),
    out: Path | None = OUT,
    cubv2: Path | None = typer.Option(
        None,
        "--cubv2",
        help="Folder where CUBV2.tar (wsolevaluation's val images, NNN.Class/ID.jpg) was "
        "extracted; it may be ROOT/images itself.",
        show_default=False,
    ),
    cubv2_boxes: Path | None = typer.Option(
        None,
        "--cubv2-boxes",
        help="CUBV2 boxes as path,x0,y0,x1,y1 lines: wsolevaluation's "
        "metadata/CUB/val/localization.txt (or its folder). [default: CUBV2/localization.txt]",
        show_default=False,
    ),
    masks: Path | None = typer.Option(
        None,
        "--masks",
        help="Masks of the test images, for PxAP and pIoU on test: the segmentations/ folder of "
        "CUB-200-2011 (CLASS/NAME.png) or DA-WSOL's CUBMask/ folder (masks/CLASS/NAME.png). "
        "A pixel is foreground where its mask value is non-zero.",
        show_default=False,
    ),
    val_per_class: int = typer.Option(
        5,
        "--val-per-class",
        min=0,
        help="Without --cubv2: train images per class moved to val (seeded; 0: no val split).",
    ),
    seed: int = SEED,
    overwrite: bool = OVERWRITE,
    skip_bad_images: bool = SKIP_BAD,
    workers: int = WORKERS,
    as_json: bool = JSON,
) -> None:
    """Convert **CUB-200-2011** into wsolkit's metadata format.

    Train and test follow train_test_split.txt in images.txt order, boxes become
    x0=int(x), y0=int(y), x1=int(x+w), y1=int(y+h) and labels the class id - 1:
    the same lines as wsolevaluation's metadata/CUB.

    The val split is **CUBV2** when --cubv2 is given. Without it, --val-per-class
    images of every class are drawn from train with --seed and removed from train
    (no image is in two splits); the summary says so, and val numbers are then not
    comparable with published CUBV2 ones.

    **--masks** adds a mask to every test image (mask_localization.txt beside the
    boxes) and records the mask folder in dataset.yaml, so `train` and `eval` score
    test with PxAP and pIoU too, as DA-WSOL and BagCAMs do. Both the official
    segmentations/ (soft, annotators' votes) and CUBMask/ are read as wsolevaluation
    reads masks: a pixel is foreground where its value is non-zero. A missing mask,
    or one whose size is not its image's, stops the command.

    Example: `wsolkit prepare cub ~/data/CUB_200_2011 --cubv2 ~/data/CUB_200_2011/images
    --cubv2-boxes ~/wsolevaluation/metadata/CUB/val --masks ~/data/segmentations`
    """
    from wsolkit.data.prepare.cub import prepare_cub

    with progress_bar("preparing") as progress:
        summary = prepare_cub(
            root,
            out,
            cubv2=cubv2,
            cubv2_boxes=cubv2_boxes,
            masks=masks,
            val_per_class=val_per_class,
            seed=seed,
            overwrite=overwrite,
            skip_bad_images=skip_bad_images,
            workers=workers,
            progress=progress,
        )
    _render(summary, as_json)


@app.command("imagenet")
def imagenet(
    root: Path = typer.Argument(
        ...,
        help="ILSVRC2012 folder with train/WNID/NAME.JPEG and val/NAME.JPEG (or the Kaggle layout "
        "Data/CLS-LOC/..., Annotations/CLS-LOC/val).",
        show_default=False,
    ),
    out: Path | None = OUT,
    val_boxes: Path | None = typer.Option(
        None,
        "--val-boxes",
        help="Folder of the Pascal-VOC XML boxes of the val images (ILSVRC2012_bbox_val_v3.tgz "
        "extracted). [default: beside the images, or Annotations/CLS-LOC/val]",
        show_default=False,
    ),
    imagenetv2: Path | None = typer.Option(
        None,
        "--imagenetv2",
        help="ImageNetV2 threshold0.7 images (folders 0..999, e.g. ROOT/val2): the val split.",
        show_default=False,
    ),
    imagenetv2_boxes: Path | None = typer.Option(
        None,
        "--imagenetv2-boxes",
        help="ImageNetV2 boxes: wsolevaluation's release/ImageNetV2_boxes.txt or "
        "metadata/ILSVRC/val/localization.txt. [default: IMAGENETV2/ImageNetV2_boxes.txt]",
        show_default=False,
    ),
    overwrite: bool = OVERWRITE,
    skip_bad_images: bool = SKIP_BAD,
    workers: int = WORKERS,
    as_json: bool = JSON,
) -> None:
    """Convert **ImageNet-1K (ILSVRC2012)** into wsolkit's metadata format.

    Train: the class folders (labels = index of the wnid in the sorted list, no
    boxes). Test: the 50,000 ILSVRC2012 val images with every box of their XML.
    Val: ImageNetV2 with wsolevaluation's boxes when --imagenetv2 is given,
    otherwise there is no val split (checkpoints cannot be chosen on localization).

    Example: `wsolkit prepare imagenet ~/data/ILSVRC --val-boxes ~/data/val_xml
    --imagenetv2 ~/data/ILSVRC/val2 --imagenetv2-boxes ~/data/ImageNetV2_boxes.txt`
    """
    from wsolkit.data.prepare.imagenet import prepare_imagenet

    with progress_bar("preparing") as progress:
        summary = prepare_imagenet(
            root,
            out,
            val_boxes=val_boxes,
            imagenetv2=imagenetv2,
            imagenetv2_boxes=imagenetv2_boxes,
            overwrite=overwrite,
            skip_bad_images=skip_bad_images,
            workers=workers,
            progress=progress,
        )
    _render(summary, as_json)


@app.command("openimages")
def openimages(
    root: Path = typer.Argument(
        ...,
        help="The OpenImages30k folder of wsolevaluation: train/ val/ test/ with one folder per "
        "class; val/test masks (ID_mCLASS_HASH.png, ID_ignore.png) beside the images.",
        show_default=False,
    ),
    out: Path | None = OUT,
    mask_root: Path | None = typer.Option(
        None,
        "--mask-root",
        help="Where the masks are, with the same val/CLASS/ layout. [default: ROOT]",
        show_default=False,
    ),
    overwrite: bool = OVERWRITE,
    skip_bad_images: bool = SKIP_BAD,
    workers: int = WORKERS,
    as_json: bool = JSON,
) -> None:
    """Convert **OpenImages30k** (100 classes, instance masks) into wsolkit's metadata format.

    Labels are the index of the class folder in the sorted list. Val and test list
    every instance mask of an image, the first line also its ignore mask (PxAP).

    Example: `wsolkit prepare openimages ~/data/OpenImages`
    """
    from wsolkit.data.prepare.openimages import prepare_openimages

    with progress_bar("preparing") as progress:
        summary = prepare_openimages(
            root,
            out,
            mask_root=mask_root,
            overwrite=overwrite,
            skip_bad_images=skip_bad_images,
            workers=workers,
            progress=progress,
        )
    _render(summary, as_json)


@app.command("folder")
def folder(
    root: Path = typer.Argument(
        ...,
        help="Your dataset: ROOT/CLASS/NAME.jpg, or ROOT/train|val|test/CLASS/NAME.jpg to keep "
        "your own splits.",
        show_default=False,
    ),
    out: Path | None = OUT,
    boxes: Path | None = typer.Option(
        None,
        "--boxes",
        help="CSV of boxes: path,x0,y0,x1,y1 (path relative to ROOT, header optional, one line "
        "per box).",
        show_default=False,
    ),
    voc_dir: Path | None = typer.Option(
        None,
        "--voc-dir",
        help="Folder of Pascal-VOC XML files (mirroring the class folders, or flat). "
        "[default: XML files beside the images, if any]",
        show_default=False,
    ),
    val_fraction: float = typer.Option(
        0.1, "--val-fraction", min=0.0, max=1.0, help="Share of each class's boxed images for val."
    ),
    test_fraction: float = typer.Option(
        0.2,
        "--test-fraction",
        min=0.0,
        max=1.0,
        help="Share of each class's boxed images for test.",
    ),
    seed: int = SEED,
    overwrite: bool = OVERWRITE,
    skip_bad_images: bool = SKIP_BAD,
    workers: int = WORKERS,
    as_json: bool = JSON,
) -> None:
    """Convert **your own image folder** into wsolkit's metadata format.

    Classes are the class folder names, sorted (labels 0..K-1). Boxes come from
    --boxes (CSV) or Pascal-VOC XML files; an XML's objects named like the image's
    class folder are its boxes (all objects if none is).

    Without train/val/test folders, val and test take --val-fraction and
    --test-fraction of each class's images that have boxes (drawn with --seed);
    images without boxes all go to train, which needs none. Evaluation splits need
    a box for every image.

    Example: `wsolkit prepare folder ~/data/birds --boxes ~/data/birds/boxes.csv`
    """
    from wsolkit.data.prepare.folder import prepare_folder

    with progress_bar("preparing") as progress:
        summary = prepare_folder(
            root,
            out,
            boxes=boxes,
            voc_dir=voc_dir,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=seed,
            overwrite=overwrite,
            skip_bad_images=skip_bad_images,
            workers=workers,
            progress=progress,
        )
    _render(summary, as_json)
