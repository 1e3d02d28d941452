"""Check a split's image files before training: each exists and its header reads.

Only the header is read (``Image.open`` and its size, nothing decoded), in a
thread pool, with the rules of :func:`wsolkit.data.images.image_size`: a
missing file, a file PIL cannot identify or parse, an empty size and an image
over PIL's decompression-bomb limit are bad. A file whose pixel data is
truncated further on still passes (finding that means decoding every image);
the dataset reports it when it reads it.

``check_images`` never raises for a bad image: the caller decides whether to
stop (naming the first one and the count) or leave them out::

    bad = check_images(metadata, image_root, progress=lambda done, total: ...)
    if bad and not skip_bad_images:
        raise DataError(f"{len(bad)} image(s) cannot be used; first: {bad[0].reason}")
"""

from __future__ import annotations

from pathlib import Path

from wsolkit.data.images import HEADER_SKIP, BadImage, ImageReadError, read_headers
from wsolkit.data.metadata import SplitMetadata
from wsolkit.progress import Progress


def check_images(
    metadata: SplitMetadata,
    image_root: Path,
    *,
    progress: Progress | None = None,
    workers: int = 8,
) -> list[BadImage]:
    """The images of ``metadata`` whose file is missing or whose header does not read.

    Every id of ``metadata.image_ids`` is opened below ``image_root`` by
    ``workers`` threads; ``progress(done, total)`` is called as they advance
    (from the calling thread). Returns the bad images in metadata order, each
    with its id, path and a one-line ``reason`` (``PATH: what is wrong``, no fix).
    """
    root = Path(image_root)
    ids = list(metadata.image_ids)
    paths = [root / image_id for image_id in ids]
    results = read_headers(paths, workers=workers, progress=progress, skip=HEADER_SKIP)
    return [
        BadImage(image_id, str(path), result.reason)
        for image_id, path, result in zip(ids, paths, results, strict=True)
        if isinstance(result, ImageReadError)
    ]
