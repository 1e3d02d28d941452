"""Fixtures of the CAM-store tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cams_helpers import write_store


@pytest.fixture
def store_factory(tmp_path: Path) -> Callable[..., Path]:
    """``store_factory(cams, **kwargs)`` writes a store in tmp_path and returns its path."""
    count = 0

    def make(cams: np.ndarray, **kwargs: Any) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"store{count}.h5"
        write_store(path, cams, **kwargs)
        return path

    return make
