"""The child interpreters of the package step (bytecode compilers, the import smoke test),
none of which outlives an interrupted run.

Each child is started and awaited in a worker thread, never in the main thread: the CLI's
signal handlers raise in the main thread, and one landing inside ``Popen()`` between the
fork and the moment the process object exists would lose the child. The main thread only
waits for results; interrupted there (Ctrl-C, SIGTERM), it kills every child started, and
one still being started is killed as soon as it exists.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

import attrs

from layer_builder.archive.parallel import shutting_down

_WAKE_UP = 0.1
_T = TypeVar("_T")


@attrs.frozen
class ChildJob:
    """One child process: its command line, what it reads on stdin, its environment."""

    command: Sequence[str]
    input: str | None = None
    env: Mapping[str, str] | None = None
    timeout: float | None = None


class Children:
    """The children started through ``run`` (from worker threads), and ``kill_all`` for them."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._started: list[subprocess.Popen[str]] = []
        self._stopping = False

    def run(self, job: ChildJob) -> subprocess.CompletedProcess[str]:
        """Run ``job`` to its end (from a worker thread) and return its outcome."""
        process = subprocess.Popen(
            list(job.command),
            stdin=subprocess.PIPE if job.input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=None if job.env is None else dict(job.env),
        )
        with self._mutex:
            self._started.append(process)
            if self._stopping:
                process.kill()
        try:
            out, err = process.communicate(job.input, timeout=job.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        return subprocess.CompletedProcess(job.command, process.returncode, out, err)

    def kill_all(self) -> None:
        """Kill every child started, and any started from now on."""
        with self._mutex:
            self._stopping = True
            started = list(self._started)
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                process.kill()


def wait_for(futures: Sequence[Future[_T]]) -> list[_T]:
    """The results of ``futures``, in order, waited for from the main thread; the first
    failure is raised at once."""
    pending = set(futures)
    while pending:
        # Woken up every tenth of a second: a signal the kernel handed to a worker thread
        # would not interrupt an untimed wait, and its handler runs in this thread only.
        done, pending = wait(pending, timeout=_WAKE_UP, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # raises the first failure at once
    return [future.result() for future in futures]


def run_children(jobs: Sequence[ChildJob], workers: int) -> list[subprocess.CompletedProcess[str]]:
    """Run ``jobs``, at most ``workers`` at once; their outcomes, in order. Interrupted, every
    child is killed and the threads are joined before the interruption goes on."""
    children = Children()
    pool = ThreadPoolExecutor(max(1, min(workers, len(jobs))), thread_name_prefix="layer-child")
    with shutting_down(pool):  # joins the threads, cancelling what has not started on error
        try:
            return wait_for([pool.submit(children.run, job) for job in jobs])
        except BaseException:
            children.kill_all()
            raise
