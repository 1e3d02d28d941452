"""Reading image files: header sizes, decoding to 8-bit RGB, and the one-line read error.

Every image reaches the network as 8-bit RGB. Per PIL mode (``Image.open(...).mode``):

- ``RGB``: as it is.
- ``1``, ``L``, ``P``, ``RGBA``, ``LA``, ``PA``, ``RGBX``, ``YCbCr``, ``CMYK`` and the
  other modes PIL converts: ``image.convert("RGB")``, exactly what wsolevaluation's
  loader and torchvision's ``ImageFolder`` do, so a model sees the same pixels here
  and there. In particular **alpha is dropped, not composited**: an ``RGBA``, ``LA``,
  ``PA`` or palette-with-transparency pixel keeps the colour stored under it
  (``(1, 2, 3, 0)`` → ``(1, 2, 3)``; a transparent palette index gives its palette
  colour). Grayscale is repeated over the three channels. ``CMYK`` uses PIL's
  formula ``R = (255 − K) − round(C · (255 − K) / 255)`` ≈ ``(255 − C)(255 − K) / 255``
  (likewise G with M, B with Y; Adobe's inverted CMYK JPEGs are un-inverted by PIL);
  an embedded ICC profile is ignored.
- ``I;16``, ``I;16L``, ``I;16B``, ``I;16N`` (16-bit grayscale, e.g. 16-bit PNG and
  TIFF) and ``I`` (32-bit integer): scaled by the full 16-bit range,
  ``v → round(v · 255 / 65535)`` (= ``round(v / 257)``; 0 → 0, 257 → 1,
  32768 → 128, 65535 → 255), then repeated over the channels. The same stored
  value gives the same gray in every image (no per-image stretching), so
  intensities stay comparable across a dataset; 12-bit data stored in 16 bits
  therefore looks dark (4095 → 16): rescale such files yourself if you want their
  full contrast. ``I`` images must hold values in 0..65535 (what PIL gives for
  16-bit files); other values are refused (:class:`ImageReadError`).
  ``convert("RGB")`` would clip every value above 255 to white.
- ``F`` (32-bit float): values must be finite and in [0, 1];
  ``v → round(v · 255)`` (halves up: 0.5 → 128). Anything else is refused.

Images larger than twice PIL's ``Image.MAX_IMAGE_PIXELS`` (178,956,970 pixels by
default, e.g. 14000×14000) are refused as possible decompression bombs, with one
line naming the file and its pixel count; between the limit and twice it, PIL
only warns and the image is used. Every refusal is an :class:`ImageReadError`,
which ``--skip-bad-images`` (``data.skip_bad_images``) turns into a skipped image.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, NamedTuple

from wsolkit.errors import DataError
from wsolkit.progress import Progress

#: How to leave a bad image out, named by header-read errors (``wsolkit prepare``, the
#: check before training).
HEADER_SKIP = "pass --skip-bad-images to leave it out"
#: How to leave a bad image out, named by decoding errors (datasets in training, evaluation).
LOAD_SKIP = "set data.skip_bad_images (--skip-bad-images) to skip unreadable images"
INT_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_MAX_16 = 65535
_LOAD_FIX = f"replace or remove it, or {LOAD_SKIP}"


class BadImage(NamedTuple):
    """An image that cannot be used: its id, its path and a one-line reason."""

    image_id: str
    path: str
    reason: str


class ImageReadError(DataError):
    """An unreadable or unusable image file; the message is ``PATH: what is wrong; the fix``.

    ``reason`` holds ``PATH: what is wrong`` alone (no fix). A DataLoader worker
    re-raises it in the main process as ``ImageReadError(text)`` where ``text``
    holds torch's "Caught ... Original Traceback" report; this class keeps only
    the original one-line message, so the CLI still prints one line.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        if message.startswith("Caught ") and "Original Traceback" in message:
            last = message.rstrip().splitlines()[-1]
            message = last.split(": ", 1)[1] if ": " in last else last
        super().__init__(message)
        self.reason = reason if reason is not None else message


def _error(path: Path, what: str, fix: str) -> ImageReadError:
    return ImageReadError(f"{path}: {what}; {fix}", f"{path}: {what}")


_BOMB = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+) pixels")


def _bomb(path: Path, exc: Exception, skip: str) -> ImageReadError:
    found = _BOMB.search(str(exc))
    size = (
        f"{int(found[1]):,} pixels, over PIL's decompression-bomb limit of {int(found[2]):,} "
        "(2 × Image.MAX_IMAGE_PIXELS)"
        if found
        else str(exc)
    )
    return _error(
        path,
        f"image too large to decode safely: {size}",
        f"downscale it (wsolkit resizes images to a few hundred pixels anyway), or {skip}",
    )


def _read_errors() -> tuple[type[BaseException], ...]:
    from PIL import UnidentifiedImageError

    # PIL's plugins raise all of these for truncated or corrupt files.
    return (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error)


def image_size(path: Path, *, skip: str = HEADER_SKIP) -> tuple[int, int]:
    """``(width, height)`` from the image header (nothing is decoded).

    A missing, unreadable or too large (decompression bomb) image, or one of
    empty size, raises :class:`ImageReadError` naming the file and the fix
    (``skip`` says how to leave it out).
    """
    from PIL import Image

    fix = f"replace or remove the file, or {skip}"
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise _error(path, "image file not found", f"check the image folder, or {skip}") from None
    except Image.DecompressionBombError as exc:
        raise _bomb(path, exc, skip) from None
    except _read_errors() as exc:
        raise _error(path, f"cannot read the image header ({exc})", fix) from None
    if width <= 0 or height <= 0:
        raise _error(path, f"image has an empty size {width}x{height}", fix)
    return width, height


def load_rgb(path: Path) -> Any:
    """The image at ``path`` fully decoded as an 8-bit RGB PIL image (rules: module docstring).

    Unreadable, unsupported or too large → :class:`ImageReadError` naming the file.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image, path)
    except FileNotFoundError:
        fix = f"check data.image_root, or {LOAD_SKIP}"
        raise _error(path, "image file not found", fix) from None
    except Image.DecompressionBombError as exc:
        raise _bomb(path, exc, LOAD_SKIP) from None
    except _read_errors() as exc:
        raise _error(path, f"cannot read the image ({exc})", _LOAD_FIX) from None


def to_rgb(image: Any, path: Path | str = "image") -> Any:
    """A loaded PIL image as 8-bit RGB by the rules of the module docstring.

    ``path`` only names the file in an :class:`ImageReadError` (out-of-range ``I``/``F`` values).
    """
    if image.mode == "RGB":
        return image.copy()
    if image.mode in INT_GRAY_MODES:
        return _gray8(_scale_16bit(image, Path(path)))
    if image.mode == "F":
        return _gray8(_scale_float(image, Path(path)))
    if image.mode == "P" and "transparency" in image.info:
        # The same pixels as convert("RGB"), without PIL's warning about byte transparency.
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def _gray8(values: Any) -> Any:
    from PIL import Image

    return Image.fromarray(values).convert("RGB")


def _scale_16bit(image: Any, path: Path) -> Any:
    import numpy as np

    values = np.asarray(image)
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if low < 0 or high > _MAX_16:
        raise _error(
            path,
            f"{image.mode} image with values {low}..{high}, outside the 16-bit range 0..65535 "
            "that wsolkit scales to 8 bits",
            f"save it as 8- or 16-bit, or {LOAD_SKIP}",
        )
    # Integer arithmetic, exact: (v * 255 + 32767) // 65535 = round(v * 255 / 65535).
    return ((values.astype(np.uint32) * 255 + _MAX_16 // 2) // _MAX_16).astype(np.uint8)


def _scale_float(image: Any, path: Path) -> Any:
    import numpy as np

    values = np.asarray(image, dtype=np.float64)
    if values.size and not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
        finite = values[np.isfinite(values)]
        found = [f"values {finite.min():g}..{finite.max():g}"] if finite.size else []
        if finite.size < values.size:
            found.append("NaN or infinite values")
        raise _error(
            path,
            f"floating-point image with {' and '.join(found)}, outside [0, 1] (scaled by 255)",
            f"save it as 8- or 16-bit, or {LOAD_SKIP}",
        )
    return np.floor(values * 255 + 0.5).astype(np.uint8)


def read_headers(
    paths: Sequence[Path],
    *,
    workers: int = 8,
    progress: Progress | None = None,
    skip: str = HEADER_SKIP,
) -> list[tuple[int, int] | ImageReadError]:
    """:func:`image_size` of every path, in a thread pool; never raises for a bad image.

    Returns, in the order of ``paths``, each size or the :class:`ImageReadError`
    it raised. Paths are handed to the threads in chunks (the per-image cost is
    one ``Image.open``); ``progress`` is called after each chunk, from this thread.
    """
    total = len(paths)
    results: list[tuple[int, int] | ImageReadError] = [(0, 0)] * total
    workers = max(1, workers)
    chunk = max(1, min(256, total // (workers * 8)))

    def run(start: int) -> int:
        end = min(start + chunk, total)
        for index in range(start, end):
            try:
                results[index] = image_size(paths[index], skip=skip)
            except ImageReadError as exc:
                results[index] = exc
        return end - start

    if progress is not None:
        progress(0, total)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wsolkit-headers")
    try:
        futures = [pool.submit(run, start) for start in range(0, total, chunk)]
        done = 0
        for future in as_completed(futures):
            done += future.result()
            if progress is not None:
                progress(done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C does not wait for the rest
    return results
