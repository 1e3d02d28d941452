"""Benchmark: how long ``wsolkit --help`` and ``wsolkit list`` take, against importing torch.

Run (a script, not a test):

    python tests/benchmarks/bench_cli_startup.py [--runs 7]

Each command runs in a fresh subprocess, ``--runs`` times, round-robin (so a
load change on the machine hits every command alike) after one untimed warm-up
run each; the median and the fastest run are printed, and the ratio of each
median to that of ``python -c "import torch, torchvision"``. ``wsolkit list``
reads a plugin cache warmed beforehand; ``wsolkit list --check`` imports every
plugin, as ``list`` did before the cache. The cache lives in a temporary folder
(``WSOLKIT_CACHE``), so the user's cache is neither used nor touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wsolkit_command() -> list[str]:
    """The ``wsolkit`` console script beside this interpreter, else ``python -m wsolkit``."""
    script = Path(sys.executable).with_name("wsolkit")
    if script.is_file():
        return [str(script)]
    found = shutil.which("wsolkit")
    return [found] if found else [sys.executable, "-m", "wsolkit"]


def run_once(command: list[str], env: dict[str, str]) -> float:
    """Wall-clock seconds of one run; a failing command stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode(errors='replace')}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command")
    args = parser.parse_args()

    wsolkit = wsolkit_command()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import torch, torchvision"': [
            sys.executable,
            "-c",
            "import torch, torchvision",
        ],
        "wsolkit --help": [*wsolkit, "--help"],
        "wsolkit list (warm cache)": [*wsolkit, "list"],
        "wsolkit list --json (warm cache)": [*wsolkit, "list", "--json"],
        "wsolkit list --check": [*wsolkit, "list", "--check"],
    }
    with tempfile.TemporaryDirectory(prefix="wsolkit-bench-cache-") as cache:
        env = {**os.environ, "WSOLKIT_CACHE": cache, "COLUMNS": "100"}
        for command in cases.values():  # warm-up: file-system cache, bytecode, plugin cache
            run_once(command, env)
        times: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(args.runs):
            for label, command in cases.items():
                times[label].append(run_once(command, env))

    baseline = statistics.median(times['python -c "import torch, torchvision"'])
    width = max(map(len, cases))
    print(f"{args.runs} runs each; wsolkit = {' '.join(wsolkit)}; Python {sys.version.split()[0]}")
    print(f"{'command':<{width}}  {'median':>8}  {'fastest':>8}  {'vs torch':>8}")
    for label, values in times.items():
        median = statistics.median(values)
        print(
            f"{label:<{width}}  {median:>7.3f}s  {min(values):>7.3f}s  {median / baseline:>7.2f}×"
        )


if __name__ == "__main__":
    main()
