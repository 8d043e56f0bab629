"""FolderLock: one holder per build folder, across real processes and threads."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from layer_builder import (
    BuildResult,
    BuildStep,
    LayerPathLayout,
    LayerTarget,
    Manifest,
    PackageStep,
)
from layer_builder.errors import ProjectError
from layer_builder.steps.folder_lock import FolderLock, read_holder
from tests.conftest import MakeProject
from tests.processes import Holder

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock and POSIX signals")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Holder]:
    holding = Holder(tmp_path / "build" / ".lock")
    yield holding
    if holding.process.poll() is None:
        holding.process.kill()
        holding.process.wait()


class Waiter(threading.Thread):
    """Takes the lock in a thread (so the test can act while it waits), then releases it."""

    def __init__(self, lock: FolderLock):
        super().__init__(daemon=True)
        self.lock = lock
        self.acquired = threading.Event()
        self.body: dict[str, object] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.lock:
                self.body = json.loads(self.lock.path.read_text())
                self.acquired.set()
        except BaseException as exc:
            self.error = exc
            self.acquired.set()


class WaitingMessages(logging.Handler):
    """Collects the lock's log records; ``seen`` is set at the first one (from any thread)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.seen.set()


@pytest.fixture
def waiting() -> Iterator[WaitingMessages]:
    handler = WaitingMessages()
    logger = logging.getLogger("layer_builder.steps.folder_lock")
    saved = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(saved)


def test_body_names_the_holder_and_is_cleared_on_release(tmp_path: Path) -> None:
    path = tmp_path / "build" / ".lock"
    with FolderLock(path, "package"):
        holder = read_holder(path)
        assert holder is not None
        assert (holder.pid, holder.host, holder.command) == (
            os.getpid(),
            socket.gethostname(),
            "package",
        )
        assert holder.describe().startswith(f"layer-builder pid {os.getpid()} (package, started ")
    assert path.read_bytes() == b"", "the file stays (deleting it would race); its body goes"
    assert read_holder(path) is None


def test_reentrant_within_a_thread(tmp_path: Path) -> None:
    lock = FolderLock(tmp_path / ".lock", "run")
    with lock, FolderLock(tmp_path / ".lock", "package"), lock:
        holder = read_holder(lock.path)
        assert holder is not None and holder.command == "run", "the outer holder's body stays"
    # Fully released: another process takes it at once.
    Holder(lock.path).release()


def test_a_second_process_waits_and_names_the_holder(
    holder: Holder, waiting: WaitingMessages, tmp_path: Path
) -> None:
    waiter = Waiter(FolderLock(tmp_path / "build" / ".lock", "build"))
    waiter.start()
    assert waiting.seen.wait(60)
    assert not waiter.acquired.is_set()
    (message,) = waiting.messages
    assert message.startswith(f"waiting for layer-builder pid {holder.pid} (test holder, started ")
    assert message.endswith(f") in this folder: {tmp_path / 'build' / '.lock'}")
    holder.release()
    assert waiter.acquired.wait(60)
    waiter.join(60)
    assert waiter.error is None
    assert waiter.body["pid"] == os.getpid()
    assert waiter.body["command"] == "build"


def test_a_killed_holder_leaves_no_lock(holder: Holder, tmp_path: Path) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.process.wait()
    with FolderLock(tmp_path / "build" / ".lock", "build") as lock:  # at once: the kernel freed it
        holder_now = read_holder(lock.path)
        assert holder_now is not None and holder_now.pid == os.getpid()


def test_a_lock_file_deleted_while_waiting_is_made_again(
    holder: Holder, waiting: WaitingMessages, tmp_path: Path
) -> None:
    path = tmp_path / "build" / ".lock"
    waiter = Waiter(FolderLock(path, "build"))
    waiter.start()
    assert waiting.seen.wait(60)
    path.unlink()  # e.g. rm -rf build/ while a run waits
    holder.release()
    assert waiter.acquired.wait(60)
    waiter.join(60)
    assert waiter.error is None
    assert waiter.body["pid"] == os.getpid(), "the new file's lock, with this run's body"


def test_another_thread_of_the_process_waits(tmp_path: Path, waiting: WaitingMessages) -> None:
    lock = FolderLock(tmp_path / ".lock", "run")
    with lock:
        waiter = Waiter(FolderLock(tmp_path / ".lock", "package"))
        waiter.start()
        assert waiting.seen.wait(60)
        assert waiting.messages == [
            f"waiting for another thread of this process (pid {os.getpid()}) in this folder: "
            f"{tmp_path / '.lock'}"
        ]
        assert not waiter.acquired.is_set()
    assert waiter.acquired.wait(60)
    waiter.join(60)
    assert waiter.body["command"] == "package"


def test_one_file_by_two_spellings_is_reentered(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    with FolderLock(real / ".lock"), FolderLock(tmp_path / "alias" / ".lock"):
        assert read_holder(real / ".lock") is not None


def test_a_lock_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep")
    (tmp_path / ".lock").symlink_to(elsewhere)
    with pytest.raises(ProjectError) as caught, FolderLock(tmp_path / ".lock"):
        pass
    assert str(caught.value) == (
        f"the folder lock {tmp_path / '.lock'} is a symbolic link, and layer-builder writes "
        f"through no link: remove it (it is made again as a plain file)"
    )
    assert elsewhere.read_text() == "keep"


class StepRunner(threading.Thread):
    """Runs a step in a thread, so that the test can release the holder meanwhile."""

    def __init__(self, run: Callable[[], object]):
        super().__init__(daemon=True)
        self.run_step = run
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.run_step()
        except BaseException as exc:
            self.error = exc


def test_the_steps_take_the_lock_themselves(
    make_project: MakeProject, waiting: WaitingMessages
) -> None:
    """The Python API is as safe as the command: BuildStep and PackageStep wait too."""
    project = make_project({"tinyutil": "1.0.0"})
    layout = LayerPathLayout(project)
    step = BuildStep(LayerTarget("3.12", "x86_64"), Manifest.from_project(project), layout)
    holders = []

    def run_while_held(run: Callable[[], object], product: Path) -> object:
        waiting.seen.clear()
        holder = Holder(layout.path_lock)
        holders.append(holder.pid)
        runner = StepRunner(run)
        runner.start()
        assert waiting.seen.wait(60)
        assert not product.exists(), "nothing done while the lock is held"
        holder.release()
        runner.join(120)
        assert runner.error is None
        assert product.exists()
        return runner.result

    build = run_while_held(step.run, layout.dir_python)
    assert isinstance(build, BuildResult)
    run_while_held(lambda: PackageStep(layout.path_layer_zip).run(build), layout.path_layer_zip)
    assert [m.split(" (")[0] for m in waiting.messages] == [
        f"waiting for layer-builder pid {pid}" for pid in holders
    ]


#: A holder whose process pool forks workers while it holds the lock (a script using the API
#: may), then waits to be killed.
FORKING_HOLDER = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from pathlib import Path
    from layer_builder.steps.folder_lock import FolderLock
    with FolderLock(Path(sys.argv[1]), "forking holder"):
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
        pids = {pool.submit(os.getpid).result() for _ in range(8)}
        print(" ".join(map(str, sorted(pids))), flush=True)
        time.sleep(600)
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_workers_forked_by_a_killed_holder_do_not_keep_the_lock(
    tmp_path: Path, waiting: WaitingMessages
) -> None:
    path = tmp_path / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", FORKING_HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    workers = [int(pid) for pid in holder.stdout.readline().split()]
    try:
        assert workers
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        for pid in workers:
            os.kill(pid, 0)  # orphaned, alive, holding their copy of what the parent had open
        waiter = Waiter(FolderLock(path, "after"))
        waiter.start()
        assert waiter.acquired.wait(60), "the orphaned workers hold the lock"
        waiter.join(60)
        assert waiter.error is None
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
