"""One intra-op thread for the extractor tests.

Their tensors are small: a second thread saves little on an idle CPU, and on a shared one
(a benchmark running beside the suite) the threads' barriers make the same tests ten times
slower. The caller's setting is restored after each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wsolkit.engine.device import torch_threads


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with torch_threads(1):
        yield
