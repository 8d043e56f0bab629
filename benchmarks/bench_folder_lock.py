"""What the folder lock costs an unchanged ``layer-builder package`` rerun.

    .venv/bin/layer-builder build --project PROJECT [--python X.Y]
    .venv/bin/python benchmarks/bench_folder_lock.py PROJECT [--python X.Y] [-n 60] [FLAGS]

Runs ``layer-builder package`` (in-process, through the CLI's ``main``) on an already built
project, alternating the real ``FolderLock`` with a no-op stand-in, so that whatever else
loads the machine weighs on both alike; then times the bare lock (taken, re-entered,
released). Timing goals live here, not in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import layer_builder.steps.package.step as package_step
import layer_builder.workflow as workflow_module
from layer_builder.cli import main
from layer_builder.steps.folder_lock import FolderLock


class NoLock:
    """Takes nothing: the rerun without the lock."""

    def __init__(self, *_: object) -> None:
        pass

    def __enter__(self) -> NoLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass


def rerun(args: list[str], lock: type) -> float:
    package_step.FolderLock = workflow_module.FolderLock = lock  # type: ignore[attr-defined,misc]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        if main(args) != 0:
            sys.exit("layer-builder package failed: build the project first")
    return time.perf_counter() - started


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--python", default="3.12")
    parser.add_argument("-n", type=int, default=60, help="reruns with and without the lock")
    options, flags = parser.parse_known_args()  # the rest: package flags (e.g. --slim)
    args = ["package", "--project", str(options.project), "--python", options.python, "-q",
            "--json", *(f for f in flags if f != "--")]  # fmt: skip
    for lock in (FolderLock, NoLock, FolderLock):  # warm: the first rerun records the stats
        rerun(args, lock)
    with_lock, without = [], []
    for _ in range(options.n):
        with_lock.append(rerun(args, FolderLock))
        without.append(rerun(args, NoLock))
    median_with = statistics.median(with_lock) * 1000
    median_without = statistics.median(without) * 1000
    print(f"unchanged package rerun: {median_with:.2f} ms with the lock, {median_without:.2f} ms "
          f"without ({median_with - median_without:+.2f} ms; medians of {options.n}, "
          f"interleaved)")  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="lb-lock-bench-"))
    bare = []
    for _ in range(2000):
        started = time.perf_counter()
        with FolderLock(folder / ".lock", "bench"), FolderLock(folder / ".lock", "bench"):
            pass
        bare.append(time.perf_counter() - started)
    print(f"bare lock, taken + re-entered + released: {statistics.median(bare) * 1e6:.0f} us "
          f"(median of 2000)")  # fmt: skip


if __name__ == "__main__":
    main_bench()
