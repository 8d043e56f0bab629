"""What the benchmarks share: where the reference projects are, and the process tree's memory.

Peak RSS of a process tree: the benchmark runs the measured work in a child process and, every
10 ms while it runs, adds up ``VmRSS`` of that child and of every descendant alive at that
moment (found through ``/proc/<pid>/task/<tid>/children``); the peak is the largest sum seen.
Pages shared between processes (the interpreter, shared libraries) count once per process,
so the sum errs on the high side. A peak shorter than 10 ms can be missed, so each child also
reports its kernel high-water mark (``ru_maxrss``), which the table shows next to the sum:
the tree's true peak is at least that, and the sampled sum is the figure to hold under a budget.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path


def bench_dir() -> Path:
    """``shared/bench`` beside the checkout, or beside any folder above it (a git worktree
    under ``wt/<name>`` finds the same reference projects as the main checkout)."""
    here = Path(__file__).resolve().parent
    for folder in here.parents:
        candidate = folder / "shared" / "bench"
        if candidate.is_dir():
            return candidate
    raise SystemExit(f"no shared/bench folder above {here}: the reference projects are needed")


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                found += [int(child) for child in f.read().split()]
        except OSError:
            continue
    return found


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(pid: int) -> float:
    """The RSS of ``pid`` and all its descendants now, in MB (2^20 bytes)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += _rss_kib(current)
        stack += _children(current)
    return total / 1024


def run_sampled(command: list[str], cwd: Path | None = None) -> tuple[str, float, float]:
    """Run ``command``; its stdout, wall seconds and the peak RSS of its process tree (MB).
    Raises ``CalledProcessError`` (with its stderr) when it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=cwd)
        peak = 0.0
        while process.poll() is None:
            peak = max(peak, tree_rss_mb(process.pid))
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, command, out.read(), err.read())
        return out.read(), seconds, peak
