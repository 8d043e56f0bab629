"""One layer-builder at a time in a project's build folder.

Two runs in one folder (two CI jobs on one runner, a developer and a file watcher) would
otherwise write the same tree and the same zip. ``FolderLock`` is an exclusive ``flock`` on
``build/lambda/layer/.lock``: the kernel releases it when its holder exits, however it exits
(SIGKILL included), so a lock is never left behind and there is nothing to time out. A run
that finds it held logs once whose it is (from the JSON body the holder wrote: host, pid,
start time, command) and waits.

The lock is re-entrant within a thread (``LayerWorkflow.run()`` holds it around the build and
package steps, which take it too); another thread of the same process waits like another
process would. On Windows ``msvcrt.locking`` takes the place of ``flock`` (released when the
process ends, too). A lock on a network file system is only as good as that file system's
``flock``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import attrs

from layer_builder.errors import ProjectError

logger = logging.getLogger(__name__)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

#: How long a waiter looks for the holder's body (written just after the lock is taken)
#: before it says it waits for an unknown holder.
_BODY_WAIT = 2.0


@attrs.frozen
class LockHolder:
    """Who holds a folder lock, as its body says."""

    host: str
    pid: int
    started: str
    command: str

    def describe(self) -> str:
        """The holder in words, for a run that waits for it."""
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"layer-builder pid {self.pid}{where} ({self.command}, started {self.started})"


def read_holder(path: Path) -> LockHolder | None:
    """The holder named in the lock file at ``path`` (None when empty, absent or unreadable)."""
    try:
        with open(path, "rb") as f:
            return _parse(f.read(4096))
    except OSError:
        return None


def _parse(body: bytes) -> LockHolder | None:
    try:
        data = json.loads(body)
        return LockHolder(str(data["host"]), int(data["pid"]), str(data["started"]),
                          str(data["command"]))  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    # Windows locks are mandatory: lock a byte far past the body, so that waiters can read it.
    _LOCK_OFFSET = 1 << 30

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock(fd: int) -> None:
        while not _try_lock(fd):
            time.sleep(0.1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock(fd: int) -> None:
        # Blocks in the kernel; a signal handler that raises (Ctrl-C, SIGTERM in the CLI)
        # interrupts the wait.
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        # Explicit, not left to close(): a child forked while the lock was held (a process
        # pool) shares the open file description, and would otherwise keep the lock alive.
        fcntl.flock(fd, fcntl.LOCK_UN)


@attrs.define
class _Held:
    """This process's hold on one lock file: which thread, how deep, the open file."""

    mutex: threading.RLock = attrs.field(factory=threading.RLock)
    depth: int = 0
    fd: int = -1


_registry_mutex = threading.Lock()
_registry: dict[str, _Held] = {}


def _forget_in_child() -> None:
    """In a forked child (say, a process pool's worker): drop the copies of the held locks,
    without unlocking (that would free the parent's lock). Otherwise a worker orphaned by a
    SIGKILLed parent would keep the folder locked for as long as it lingers."""
    global _registry_mutex, _registry
    for held in _registry.values():
        if held.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(held.fd)
    _registry_mutex = threading.Lock()
    _registry = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class FolderLock:
    """Exclusive, re-entrant lock on a build folder, held with ``with FolderLock(path):``."""

    def __init__(self, path: Path, command: str = "layer-builder"):
        self.path = Path(path)
        #: What the holder is doing, shown to a waiting run (``build``, ``package``, ``run``).
        self.command = command

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _held(self) -> _Held:
        # By the real path: one file reached by two spellings (a linked project folder) must
        # be re-entered, not locked twice by one thread, which would wait for itself.
        key = os.path.join(os.path.realpath(self.path.parent), self.path.name)
        with _registry_mutex:
            return _registry.setdefault(key, _Held())

    def acquire(self) -> None:
        """Take the lock, waiting (without a timeout) while another run holds it."""
        held = self._held()
        if not held.mutex.acquire(blocking=False):
            logger.info("waiting for another thread of this process (pid %d) in this "
                        "folder: %s", os.getpid(), self.path)  # fmt: skip
            held.mutex.acquire()
        try:
            if held.depth == 0:
                held.fd = self._lock_file()
            held.depth += 1
        except BaseException:
            held.mutex.release()
            raise

    def release(self) -> None:
        """Release one hold; the lock is freed with the last one."""
        held = self._held()
        held.depth -= 1
        try:
            if held.depth == 0:
                fd, held.fd = held.fd, -1
                try:
                    os.ftruncate(fd, 0)  # a waiter must not read this body as its holder's
                    _unlock(fd)
                finally:
                    os.close(fd)
        finally:
            held.mutex.release()

    def _lock_file(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o644)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                raise ProjectError(
                    f"the folder lock {self.path} is a symbolic link, and layer-builder writes "
                    f"through no link: remove it (it is made again as a plain file)"
                ) from None
            try:
                if not _try_lock(fd):
                    self._wait(fd)
                if self._still_the_lock_file(fd):
                    self._write_body(fd)
                    return fd
            except BaseException:
                os.close(fd)
                raise
            # The file was deleted or replaced while we waited (rm -rf build/): the lock on
            # the old inode guards nothing; take the new file's.
            _unlock(fd)
            os.close(fd)

    def _wait(self, fd: int) -> None:
        """Say whose lock this is (once), then block until it is free."""
        holder = _parse(_read_body(fd))
        deadline = time.monotonic() + _BODY_WAIT
        while holder is None and time.monotonic() < deadline:
            # Taken an instant ago, body not written yet; or just released.
            time.sleep(0.05)
            if _try_lock(fd):
                return
            holder = _parse(_read_body(fd))
        who = holder.describe() if holder else "another layer-builder process"
        logger.info("waiting for %s in this folder: %s", who, self.path)
        _lock(fd)

    def _still_the_lock_file(self, fd: int) -> bool:
        try:
            current = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino)

    def _write_body(self, fd: int) -> None:
        body = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "command": self.command,
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(body, sort_keys=True).encode())


def _read_body(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096)
