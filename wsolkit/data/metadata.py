"""Reader and writer of the wsolevaluation metadata format (SPEC.md §1).

One folder per split, paths relative to the dataset's image root:

- ``image_ids.txt``      one image path per line
- ``class_labels.txt``   ``path,label``
- ``image_sizes.txt``    ``path,width,height`` of the original image
- ``localization.txt``   boxes ``path,x0,y0,x1,y1`` (one line per box) or masks
  ``path,mask_path,ignore_path`` (one line per instance; only the first line of
  an image carries the ignore path)
- ``image_ids_proxy.txt`` optional smaller training subset
- ``mask_localization.txt`` (wsolkit extension) mask lines beside a box
  ``localization.txt``, for datasets that have both (the synthetic benchmark)

Reading is strict: every problem raises :class:`~wsolkit.errors.MetadataError`
naming the file, the line number and the offending value. Image ids and mask
paths must stay below their root: an absolute path, a backslash or a ``..``
part is refused (wsolevaluation's files never hold one). Box coordinates must
be finite numbers (``inf`` and ``nan`` are refused). Two leniencies match
the files wsolevaluation ships: an empty ``image_sizes.txt`` is accepted where no
box needs a size (its ILSVRC train and OpenImages splits; ``sizes`` is then
empty), and an empty ``localization.txt`` means no localization.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from wsolkit.errors import MetadataError
from wsolkit.io import atomic_write_text

IMAGE_IDS = "image_ids.txt"
CLASS_LABELS = "class_labels.txt"
IMAGE_SIZES = "image_sizes.txt"
LOCALIZATION = "localization.txt"
PROXY_IDS = "image_ids_proxy.txt"
MASK_LOCALIZATION = "mask_localization.txt"

Box = tuple[int, int, int, int]
Annotation = Literal["boxes", "masks", "none"]


@dataclass
class MaskAnnotation:
    """The instance masks of one image and its optional ignore mask (paths, mask root relative)."""

    mask_paths: list[str]
    ignore_path: str | None = None


@dataclass
class SplitMetadata:
    """One split: ids in file order, and per id its label, size and localization."""

    image_ids: list[str]
    labels: dict[str, int]
    sizes: dict[str, tuple[int, int]]  # (width, height) of the original image
    boxes: dict[str, list[Box]] | None = None
    masks: dict[str, MaskAnnotation] | None = None
    proxy_ids: list[str] | None = None
    folder: Path | None = field(default=None, compare=False)

    @property
    def annotation(self) -> Annotation:
        """``boxes``, ``masks`` or ``none``; ``boxes`` when a split has both (see ``masks``)."""
        if self.boxes is not None:
            return "boxes"
        if self.masks is not None:
            return "masks"
        return "none"

    @property
    def num_classes_seen(self) -> int:
        """``max(label) + 1`` over this split."""
        return max(self.labels.values(), default=-1) + 1

    def __len__(self) -> int:
        return len(self.image_ids)

    def subset(self, ids: list[str]) -> SplitMetadata:
        """The split restricted to ``ids`` (in the given order; every id must be listed)."""
        keep = set(ids)

        def only(mapping: dict | None) -> dict | None:
            return None if mapping is None else {k: v for k, v in mapping.items() if k in keep}

        proxy = None if self.proxy_ids is None else [i for i in self.proxy_ids if i in keep]
        return SplitMetadata(
            list(ids),
            {i: self.labels[i] for i in ids},
            only(self.sizes) or {},
            only(self.boxes),
            only(self.masks),
            proxy,
            self.folder,
        )

    def with_boxes(self, boxes: dict[str, list[Box]]) -> SplitMetadata:
        """The split with other boxes (e.g. pseudo-boxes) in place of its own."""
        return SplitMetadata(
            list(self.image_ids), dict(self.labels), dict(self.sizes), boxes, None,
            self.proxy_ids, self.folder,
        )  # fmt: skip

    def num_boxes(self) -> int:
        """Boxes (or instance masks) over the split."""
        if self.boxes is not None:
            return sum(len(b) for b in self.boxes.values())
        if self.masks is not None:
            return sum(len(m.mask_paths) for m in self.masks.values())
        return 0


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-empty lines with 1-based numbers; a missing or binary file is a clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetadataError(
            path, None, "file not found; a metadata split folder needs it"
        ) from None
    except UnicodeDecodeError as exc:
        raise MetadataError(path, None, f"not UTF-8 text ({exc.reason})") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line:
            yield number, line


def _fields(path: Path, number: int, line: str, count: int, form: str) -> list[str]:
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != count:
        raise MetadataError(
            path,
            number,
            f"expected {count} comma-separated fields ({form}), got {len(parts)}: '{line}'",
        )
    return parts


def truncate_number(text: str) -> int:
    """``int(float(text))``: a finite number truncated toward zero (SPEC.md §1).

    The one rule of every reader of box coordinates (metadata, CSV, VOC, CUB).
    Raises ``ValueError("is not a number")`` or ``ValueError("is not a finite
    number")`` (``inf``, ``nan``), for the caller to put after the value.
    """
    try:
        value = float(text)
    except ValueError:
        raise ValueError("is not a number") from None
    if not math.isfinite(value):
        raise ValueError("is not a finite number")
    return int(value)


def _int(path: Path, number: int, text: str, what: str, *, allow_float: bool = False) -> int:
    try:
        return int(text)
    except ValueError:
        if not allow_float:
            raise MetadataError(path, number, f"{what} '{text}' is not an integer") from None
    try:
        return truncate_number(text)
    except ValueError as exc:
        raise MetadataError(path, number, f"{what} '{text}' {exc}") from None


def _known(path: Path, number: int, image_id: str, ids: dict[str, int], folder: Path) -> None:
    if image_id not in ids:
        raise MetadataError(
            path, number, f"image id '{image_id}' is not listed in {folder / IMAGE_IDS}"
        )


def read_image_ids(path: Path) -> list[str]:
    """Image ids in file order; a duplicate id is an error naming both lines."""
    return list(_image_id_lines(path))


def _image_id_lines(path: Path) -> dict[str, int]:
    """Image id -> its 1-based line number, in file order."""
    seen: dict[str, int] = {}
    for number, line in _lines(path):
        if "," in line:
            raise MetadataError(path, number, f"an image id cannot contain a comma: '{line}'")
        _inside_root(path, number, line, "image id", "data.image_root")
        if line in seen:
            raise MetadataError(
                path, number, f"duplicate image id '{line}' (first on line {seen[line]})"
            )
        seen[line] = number
    return seen


_DRIVE = re.compile(r"^[A-Za-z]:")


def escaping_path(value: str) -> str | None:
    """Why the relative path ``value`` could leave its root, or ``None`` when it cannot.

    Refused: an absolute path (``/x``, ``C:\\x``, ``C:x``), a backslash (it separates
    folders on Windows: ``..\\x``; wsolevaluation ids use ``/``) and a ``..`` part.
    """
    if value.startswith("/") or _DRIVE.match(value):
        return "is an absolute path"
    if "\\" in value:
        return "contains a backslash (use '/' between folders)"
    if ".." in value.split("/"):
        return "has a '..' part that leaves the root"
    return None


def _inside_root(path: Path, number: int, value: str, what: str, root: str) -> None:
    problem = escaping_path(value)
    if problem is not None:
        example = "class/mask.png" if what == "mask path" else "class/image.jpg"
        raise MetadataError(
            path,
            number,
            f"{what} '{value}' {problem}; paths must be relative to {root} and stay below it, "
            f"e.g. '{example}'",
        )


def _read_labels(folder: Path, ids: dict[str, int], num_classes: int | None) -> dict[str, int]:
    path = folder / CLASS_LABELS
    labels: dict[str, int] = {}
    for number, line in _lines(path):
        image_id, raw = _fields(path, number, line, 2, "path,label")
        _known(path, number, image_id, ids, folder)
        if image_id in labels:
            raise MetadataError(path, number, f"second label for image id '{image_id}'")
        label = _int(path, number, raw, "label")
        if label < 0 or (num_classes is not None and label >= num_classes):
            allowed = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
            raise MetadataError(path, number, f"label {label} is out of range ({allowed})")
        labels[image_id] = label
    _require_all(path, ids, labels)
    return labels


def _read_sizes(folder: Path, ids: dict[str, int]) -> dict[str, tuple[int, int]]:
    path = folder / IMAGE_SIZES
    sizes: dict[str, tuple[int, int]] = {}
    for number, line in _lines(path):
        image_id, w, h = _fields(path, number, line, 3, "path,width,height")
        _known(path, number, image_id, ids, folder)
        if image_id in sizes:
            raise MetadataError(path, number, f"second size for image id '{image_id}'")
        width, height = _int(path, number, w, "width"), _int(path, number, h, "height")
        if width <= 0 or height <= 0:
            raise MetadataError(path, number, f"image size {width}x{height} must be positive")
        sizes[image_id] = (width, height)
    if sizes:  # wsolevaluation leaves the file empty where no box needs a size
        _require_all(path, ids, sizes)
    return sizes


def _require_all(path: Path, ids: dict[str, int], found: dict[str, object]) -> None:
    missing = [i for i in ids if i not in found]
    if missing:
        first = ", ".join(f"'{m}'" for m in missing[:3])
        raise MetadataError(
            path, None, f"{len(missing)} image id(s) of {IMAGE_IDS} have no line here, e.g. {first}"
        )


def _parse_box(path: Path, number: int, parts: list[str], size: tuple[int, int]) -> Box:
    x0, y0, x1, y1 = (
        _int(path, number, v, name, allow_float=True)
        for v, name in zip(parts[1:], ("x0", "y0", "x1", "y1"), strict=True)
    )
    width, height = size
    if min(x0, y0) < 0:
        raise MetadataError(path, number, f"box ({x0},{y0},{x1},{y1}) has a negative coordinate")
    if x1 <= x0 or y1 <= y0:
        raise MetadataError(
            path, number, f"box ({x0},{y0},{x1},{y1}) needs x1 > x0 and y1 > y0 (x0,y0,x1,y1 order)"
        )
    if x1 > width or y1 > height:
        raise MetadataError(
            path,
            number,
            f"box ({x0},{y0},{x1},{y1}) lies outside the {width}x{height} image "
            f"(see {IMAGE_SIZES})",
        )
    return (x0, y0, x1, y1)


def _read_localization(
    folder: Path,
    ids: dict[str, int],
    sizes: dict[str, tuple[int, int]],
    require: bool,
    name: str = LOCALIZATION,
    listing: Path | None = None,
) -> tuple[dict[str, list[Box]] | None, dict[str, MaskAnnotation] | None]:
    """``listing``: the split folder whose image_ids.txt and image_sizes.txt the ids and sizes
    come from (default ``folder``; another one for a box set kept elsewhere)."""
    path = folder / name
    listing = listing or folder
    if not path.exists():
        if require:
            raise MetadataError(path, None, "file not found; this split needs boxes or masks")
        return None, None
    boxes: dict[str, list[Box]] = {}
    masks: dict[str, MaskAnnotation] = {}
    kind: str | None = None
    for number, line in _lines(path):
        parts = [p.strip() for p in line.split(",")]
        this = {5: "boxes", 3: "masks"}.get(len(parts))
        if this is None:
            raise MetadataError(
                path,
                number,
                f"expected 'path,x0,y0,x1,y1' (boxes) or 'path,mask_path,ignore_path' (masks), "
                f"got {len(parts)} fields: '{line}'",
            )
        if kind is None:
            kind = this
        elif this != kind:
            raise MetadataError(path, number, f"a {this[:-1]} line in a file of {kind}: '{line}'")
        image_id = parts[0]
        _known(path, number, image_id, ids, listing)
        if kind == "boxes":
            if image_id not in sizes:
                raise MetadataError(
                    listing / IMAGE_SIZES, None, f"no size for '{image_id}': boxes need image sizes"
                )
            boxes.setdefault(image_id, []).append(_parse_box(path, number, parts, sizes[image_id]))
        else:
            if not parts[1]:
                raise MetadataError(path, number, f"empty mask path for '{image_id}'")
            for mask_path in filter(None, parts[1:]):
                _inside_root(path, number, mask_path, "mask path", "data.mask_root")
            entry = masks.get(image_id)
            if entry is None:
                masks[image_id] = MaskAnnotation([parts[1]], parts[2] or None)
            else:
                entry.mask_paths.append(parts[1])
    if kind is None:  # an empty file (wsolevaluation's ILSVRC train): no localization
        if require and ids:
            raise MetadataError(path, None, "file is empty; this split needs boxes or masks")
        return None, None
    found: dict[str, object] = boxes if kind == "boxes" else masks  # type: ignore[assignment]
    if require or found:
        missing = [i for i in ids if i not in found]
        if missing:
            line = ids[missing[0]]
            raise MetadataError(
                listing / IMAGE_IDS,
                line,
                f"image '{missing[0]}' has no {'box' if kind != 'masks' else 'mask'} in "
                f"{path}" + (f" ({len(missing)} images in all)" if len(missing) > 1 else ""),
            )
    if kind == "masks":
        return None, masks
    return boxes, None


def read_split(
    folder: Path | str,
    *,
    num_classes: int | None = None,
    require_localization: bool = False,
) -> SplitMetadata:
    """Read and validate one metadata split folder.

    ``num_classes`` bounds the labels when known; ``require_localization``
    demands boxes or masks for every image (evaluation splits).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MetadataError(folder, None, "metadata split folder not found")
    ids = _image_id_lines(folder / IMAGE_IDS)  # line numbers name an image without a box
    labels = _read_labels(folder, ids, num_classes)
    sizes = _read_sizes(folder, ids)
    boxes, masks = _read_localization(folder, ids, sizes, require_localization)
    if (folder / MASK_LOCALIZATION).exists():
        extra_boxes, extra_masks = _read_localization(folder, ids, sizes, True, MASK_LOCALIZATION)
        if extra_boxes is not None or masks is not None:
            raise MetadataError(
                folder / MASK_LOCALIZATION,
                None,
                f"holds mask lines beside a box {LOCALIZATION}; found "
                + ("box lines" if extra_boxes is not None else f"masks in {LOCALIZATION} too"),
            )
        masks = extra_masks
    proxy = None
    if (folder / PROXY_IDS).exists():
        proxy = read_image_ids(folder / PROXY_IDS)
        for pid in proxy:
            if pid not in ids:
                raise MetadataError(
                    folder / PROXY_IDS, None, f"proxy id '{pid}' is not in {IMAGE_IDS}"
                )
    return SplitMetadata(list(ids), labels, sizes, boxes, masks, proxy, folder)


def read_box_set(folder: Path | str, split: SplitMetadata) -> dict[str, list[Box]]:
    """Further boxes for the images of ``split``: ``folder/localization.txt`` in the
    wsolevaluation box format (pseudo-boxes for validation), read by the strict reader:
    every line must name an image of the split, inside its size, and every image needs
    at least one box."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MetadataError(folder, None, "box-set folder not found")
    if not split.sizes:
        raise MetadataError(
            split.folder or folder, None, "the split records no image sizes: boxes need them"
        )
    ids = {image_id: number for number, image_id in enumerate(split.image_ids, start=1)}
    boxes, _ = _read_localization(folder, ids, split.sizes, True, listing=split.folder or folder)
    if boxes is None:
        raise MetadataError(folder / LOCALIZATION, None, "holds masks, not boxes")
    return boxes


def write_split(folder: Path | str, meta: SplitMetadata) -> None:
    """Write a split folder, each file atomically, in canonical form (integers, file order)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = meta.image_ids
    files = {
        IMAGE_IDS: list(ids),
        CLASS_LABELS: [f"{i},{meta.labels[i]}" for i in ids],
        # An empty sizes mapping writes an empty file, as wsolevaluation does where none is needed.
        IMAGE_SIZES: [f"{i},{meta.sizes[i][0]},{meta.sizes[i][1]}" for i in ids if meta.sizes],
    }
    if meta.boxes is not None:
        files[LOCALIZATION] = [
            f"{i},{x0},{y0},{x1},{y1}" for i in ids for (x0, y0, x1, y1) in meta.boxes[i]
        ]
    if meta.masks is not None:
        # Masks alone go to localization.txt (canonical); beside boxes, to the extension file.
        files[MASK_LOCALIZATION if meta.boxes is not None else LOCALIZATION] = [
            f"{i},{mask},{(meta.masks[i].ignore_path or '') if n == 0 else ''}"
            for i in ids
            for n, mask in enumerate(meta.masks[i].mask_paths)
        ]
    if meta.proxy_ids is not None:
        files[PROXY_IDS] = list(meta.proxy_ids)
    for name, lines in files.items():
        atomic_write_text(folder / name, "".join(line + "\n" for line in lines))
