"""Helpers of the disk-fault tests: children under a file-size limit, one-line checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

resource = pytest.importorskip("resource")  # POSIX: RLIMIT_FSIZE

CAMS_HELPERS = Path(__file__).parents[1] / "cams"


def _limit_writes(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


def run_child(
    args: Sequence[str], *, file_limit: int | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` (under ``RLIMIT_FSIZE = file_limit`` bytes if given)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "1000", "NO_COLOR": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(CAMS_HELPERS), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        preexec_fn=None if file_limit is None else lambda: _limit_writes(file_limit),
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``Error: ...`` line a failed command printed (and nothing like a traceback)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0][len("Error: ") :]


def run_python(
    code: str, *args: str, file_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child (``sys.argv[1:]`` = ``args``); a ``WsolkitError`` is printed
    as one ``Error:`` line with its exit code, as the CLI does."""
    body = textwrap.indent(textwrap.dedent(code), "    ")
    script = (
        "import sys\nfrom wsolkit.errors import WsolkitError\ntry:\n"
        f"{body}\nexcept WsolkitError as exc:\n"
        "    print(f'Error: {exc}', file=sys.stderr)\n    sys.exit(exc.exit_code)\n"
    )
    return run_child(["-c", script, *args], file_limit=file_limit)
