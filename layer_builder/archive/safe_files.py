"""Local files written and read without being redirected by a link.

A file being written goes to a partial file beside its destination, named
``<name>.<pid>-<random>.partial``, created exclusively (``O_CREAT | O_EXCL``: a link or a file
already at that name makes the creation fail instead of being written through), and renamed
over the destination only when complete. Two processes never share a partial file, and a
pre-placed link never receives a byte. What an interrupted run left (``<name>.*.partial``
files and folders) is removed by ``remove_partials``, which its callers run only while they
hold the folder lock, so that no live run's partial file is taken.

Files of a tree are opened with ``O_NOFOLLOW`` where the platform has it, and must be regular
files: a link swapped in after the tree was walked is refused, not followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from layer_builder.errors import PackageError

PARTIAL_SUFFIX = ".partial"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not block the open


def partial_name(path: Path) -> str:
    """``layer.zip.4242-9f3a1c0e.partial``: unique to this process and call."""
    return f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL_SUFFIX}"


def create_partial(path: Path) -> tuple[Path, BinaryIO]:
    """A new, empty partial file beside ``path``, open for writing; never an existing file
    or a link (the creation is exclusive)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
    while True:
        partial = path.with_name(partial_name(path))
        try:
            fd = os.open(partial, flags, 0o666)
        except FileExistsError:  # 32 random bits taken: draw again
            continue
        return partial, os.fdopen(fd, "wb")


def make_partial_dir(path: Path, purpose: str = "") -> Path:
    """A new, empty folder beside ``path`` named like a partial file (``mkdtemp``: exclusive,
    owner-only; the caller widens the mode if the folder becomes a published one), with
    ``purpose`` in its name (``layer.zip.123-smoke-x1y2.partial``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{path.name}.{os.getpid()}-{purpose + '-' if purpose else ''}"
    return Path(tempfile.mkdtemp(prefix=prefix, suffix=PARTIAL_SUFFIX, dir=path.parent))


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """Write ``path`` as a whole: the block writes a partial file, renamed over ``path`` when
    the block ends normally and deleted when it raises (``KeyboardInterrupt`` included)."""
    partial, out = create_partial(path)
    try:
        with out:
            yield out
        os.replace(partial, path)
    except BaseException:
        remove_entry(partial)
        raise


def write_replacing(path: Path, data: bytes) -> None:
    """``path`` holds ``data``, swapped in whole (never written through a link at ``path``)."""
    with replacing(path) as out:
        out.write(data)


_T = TypeVar("_T")


def finish(work: Callable[[], _T]) -> _T:
    """Run ``work`` (a cleanup, which must be safe to repeat) to its end even when Ctrl-C or
    SIGTERM (a ``KeyboardInterrupt`` in the CLI) arrives meanwhile: it is run again, then the
    interruption is raised. A signal landing in a cleanup must not leave half of it undone."""
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            result = work()
            break
        except KeyboardInterrupt as exc:
            interrupted = exc
    if interrupted is not None:
        raise interrupted
    return result


def _remove(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def remove_entry(path: Path) -> None:
    """Delete a file, a link (never what it points to) or a folder with its content, to the
    end even if interrupted (``finish``)."""
    finish(lambda: _remove(path))


def _remove_partials(path: Path) -> list[Path]:
    prefix = path.name + "."
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    removed = []
    for name in sorted(names):
        if name.startswith(prefix) and name.endswith(PARTIAL_SUFFIX):
            _remove(path.parent / name)
            removed.append(path.parent / name)
    return removed


def remove_partials(path: Path) -> list[Path]:
    """Delete the partial files and folders of ``path`` (and the fixed ``<name>.partial`` of
    older versions), to the end even if interrupted; returns what was deleted. Only for a
    caller holding the folder lock: another run's partial files would go too."""
    return finish(lambda: _remove_partials(path))


def open_member(path: Path, inode: int | None = None) -> BinaryIO:
    """Open a file of a tree for reading: a regular file, not through a link in its last
    component, and when ``inode`` is given the very file that was walked."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _BINARY | _NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOENT):
            what = "became a symbolic link" if exc.errno == errno.ELOOP else "vanished"
            raise PackageError(
                f"{path} {what} while it was being zipped: leave the tree alone while "
                f"packaging, then retry"
            ) from None
        raise PackageError(
            f"cannot read {path} ({exc.strerror}): make it readable (chmod a+r) or remove it "
            f"from the tree, then retry"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (inode is not None and st.st_ino != inode):
            raise PackageError(
                f"{path} was replaced while it was being zipped: leave the tree alone while "
                f"packaging, then retry"
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
