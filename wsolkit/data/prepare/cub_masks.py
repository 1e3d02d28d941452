"""CUB test masks for PxAP and pIoU (``wsolkit prepare cub ROOT --masks DIR``).

Two folders hold one mask per CUB image, named like the image with ``.png``, below
the class folders of ``images/``:

- the official CUB-200-2011 segmentations (``segmentations.tgz``):
  ``DIR/<class>/<image>.png``, soft masks (grey levels from the annotators' votes);
- DA-WSOL's and BagCAMs' ``CUBMask`` download: ``DIR/imgs/<class>/...`` (the test
  images, not used) and ``DIR/masks/<class>/...``, the layout of their README. Their
  code reads it as the mask root ``data_root/CUBMask`` with the mask paths of their
  own ``metadata/CUBMask/test/localization.txt``; that file and the archive are on
  Google Drive only, so the mask names are taken to be the official ones
  (``<image>.png``), and a missing one is reported with the path looked for.

The mask root is ``DIR/masks`` when that folder exists, else ``DIR``. Every test
image gets the mask line ``<image id>,<class>/<image>.png,`` (no ignore mask) in
the test split's ``mask_localization.txt``, beside its box.

The masks are not rewritten: the evaluator binarizes them as wsolevaluation's
``get_mask`` does (the rule DA-WSOL and BagCAMs use on CUBMask): grey levels,
nearest resize to the evaluation size, foreground where the value is > 0.5, that
is any non-zero pixel (see :func:`wsolkit.metrics.pxap.load_mask`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from wsolkit.data.images import ImageReadError, read_headers
from wsolkit.data.metadata import MaskAnnotation, escaping_path
from wsolkit.data.prepare._common import require_dir
from wsolkit.errors import DataError
from wsolkit.progress import Progress, no_progress, phase

MASK_SUFFIX = ".png"
CUBMASK_MASKS = "masks"  # CUBMask's mask folder (beside imgs/)
RULE = "a pixel is foreground where its mask value is non-zero (wsolevaluation's get_mask)"


def cub_mask_root(masks: Path) -> Path:
    """The folder holding the class folders of masks: ``masks/masks`` (CUBMask) or ``masks``."""
    require_dir(
        masks,
        "CUB mask folder",
        "pass the segmentations/ folder of CUB-200-2011 or DA-WSOL's CUBMask/ folder",
    )
    inner = masks / CUBMASK_MASKS
    return inner if inner.is_dir() else masks


def cub_mask_path(image_path: str) -> str:
    """The mask of a CUB image, relative to the mask root: ``<class>/<image stem>.png``.

    A path that could leave the mask root (absolute, a backslash, a ``..`` part) is
    refused, as the metadata reader refuses it.
    """
    problem = escaping_path(image_path)
    if problem is not None:
        raise DataError(
            f"image path '{image_path}' {problem}; masks must stay below the mask folder"
        )
    return str(PurePosixPath(image_path).with_suffix(MASK_SUFFIX))


def find_cub_masks(
    mask_root: Path, images: Mapping[str, str], image_root: Path
) -> dict[str, MaskAnnotation]:
    """``image id -> MaskAnnotation`` for ``images`` (``id -> path in images.txt``).

    A missing mask is one error naming the image, the expected mask file and how
    many other images lack one.
    """
    masks = {image_id: cub_mask_path(path) for image_id, path in images.items()}
    missing = [image_id for image_id, rel in masks.items() if not (mask_root / rel).is_file()]
    if missing:
        first = missing[0]
        expected = mask_root / masks[first]
        more = ""
        if len(missing) > 1:
            more = f" (and {len(missing) - 1:,} more test images without one)"
        hint = ""
        if not expected.parent.is_dir():
            hint = (
                f"; {mask_root} has no folder '{expected.parent.name}': pass the segmentations/ "
                "folder of CUB-200-2011 or DA-WSOL's CUBMask/ folder"
            )
        raise DataError(
            f"{image_root / first}: no mask at {expected}{more}; every test image needs one{hint}"
        )
    return {image_id: MaskAnnotation([rel]) for image_id, rel in masks.items()}


def check_mask_sizes(
    mask_root: Path,
    masks: Mapping[str, MaskAnnotation],
    sizes: Mapping[str, tuple[int, int]],
    image_root: Path,
    *,
    workers: int = 8,
    progress: Progress = no_progress,
) -> None:
    """Every mask readable and of its image's size (``sizes``: ``id -> (width, height)``).

    Images without a size (left out as unreadable) are not checked.
    """
    ids = [image_id for image_id in masks if image_id in sizes]
    files = [mask_root / masks[image_id].mask_paths[0] for image_id in ids]
    results = read_headers(files, workers=workers, progress=phase(progress, "reading mask sizes"))
    for image_id, file, result in zip(ids, files, results, strict=True):
        if isinstance(result, ImageReadError):
            raise DataError(
                f"{result.reason}; it is the mask of {image_root / image_id}: replace it with "
                "a readable PNG"
            )
        if tuple(result) != tuple(sizes[image_id]):
            (mw, mh), (w, h) = result, sizes[image_id]
            raise DataError(
                f"{file}: the mask is {mw}x{mh} but its image {image_root / image_id} is {w}x{h}; "
                "a mask must have its image's size"
            )


def mask_note(count: int, mask_root: Path) -> str:
    """The summary line saying how many masks, where, and how they are read."""
    return (
        f"test: {count:,} masks below {mask_root} (mask_localization.txt), so test is scored "
        f"with PxAP and pIoU beside the box metrics; {RULE}"
    )
