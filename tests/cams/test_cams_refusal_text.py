"""Refusals speak the command line's language: the flag, never the Python keyword."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cams_helpers import image_ids, provenance, smooth_maps, write_store

from wsolkit.cams import CamStoreError


def test_another_export_is_refused_naming_the_flag_only(tmp_path: Path) -> None:
    path = tmp_path / "cams.h5"
    write_store(path, smooth_maps(6, 7))
    with pytest.raises(CamStoreError) as info:
        write_store(path, smooth_maps(6, 7), provenance=provenance(split="val"))
    message = str(info.value)
    assert message.endswith("; pass --overwrite to replace it, or write to another file")
    assert "overwrite=True" not in message


def test_another_image_list_is_refused_naming_the_flag_only(tmp_path: Path) -> None:
    path = tmp_path / "cams.h5"
    write_store(path, smooth_maps(6, 7))
    ids = image_ids(6)[::-1]
    with pytest.raises(CamStoreError, match=r"another image list\); pass --overwrite to"):
        write_store(path, smooth_maps(6, 7), ids=ids, labels=np.arange(6) % 1000)
