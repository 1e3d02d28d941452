"""GPU checks: every test here is marked ``gpu`` and skipped where CUDA is absent.

Run them on a CUDA machine with ``python -m pytest -m gpu tests/gpu`` (or the whole
device check, ``bash tests/gpu/run_checks.sh``).
"""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs CUDA (run on a GPU machine: tests/gpu/run_checks.sh)")
    for item in items:
        if "tests/gpu/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gpu)
            if not torch.cuda.is_available():
                item.add_marker(skip)
