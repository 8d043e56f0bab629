"""Digests of an installed tree: its state, cheap enough to take on every run, and its
content, which reads every file.

The **state** covers every entry's relative path, type, size, inode, modification time and
change time (one ``lstat`` each, no reading). The change time (ctime) is the kernel's: no
call sets it back, so a file written to, replaced, linked or re-permissioned changes the
state even when its size and modification time were put back (``touch -r``). The **content**
digest covers each file's path, executable bit and bytes. The build records both beside the
tree; a tree whose state is the recorded one is the build's, and one whose state moved (a
hard link made and removed, a copy of the tree) is judged by its content. Neither is part of
the zip's identity: times and inodes differ between two identical builds, and the zip's
bytes must not.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from layer_builder.archive.hashing import sha256_file


def _entries(
    root: Path, skipped: frozenset[bytes] = frozenset()
) -> Iterator[tuple[bytes, bytes, os.stat_result]]:
    """Each file and link below ``root`` in sorted order (links not followed, folders named
    in ``skipped`` not entered): its path relative to ``root``, its full path, its ``lstat``."""
    prefix = len(os.fsencode(root)) + 1
    for directory, folders, names in os.walk(os.fsencode(root)):
        if skipped:
            folders[:] = [f for f in folders if f not in skipped and not f.endswith(b".egg-info")]
        folders.sort()
        for name in sorted(
            names + [f for f in folders if os.path.islink(os.path.join(directory, f))]
        ):
            full = os.path.join(directory, name)
            yield full[prefix:], full, os.lstat(full)


def tree_digest(root: Path) -> str:
    """The sha256 (hex) of ``root``'s entries' paths, types, sizes and modification times:
    what build records of the first format held (``tree_state`` replaces it)."""
    digest = hashlib.sha256()
    for relative, _, st in _entries(root):
        digest.update(relative + b"\0")
        digest.update(f"{_kind(st)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _kind(st: os.stat_result) -> str:
    return "l" if stat.S_ISLNK(st.st_mode) else "f" if stat.S_ISREG(st.st_mode) else "o"


def tree_state(root: Path) -> str:
    """The sha256 (hex) of ``root``'s entries' paths, types, sizes, inodes, modification and
    change times, in sorted order (links not followed): one ``lstat`` per entry."""
    digest = hashlib.sha256()
    for relative, _, st in _entries(root):
        digest.update(relative + b"\0")
        digest.update(
            f"{_kind(st)}:{st.st_size}:{st.st_ino}:{st.st_mtime_ns}:{st.st_ctime_ns}\n".encode()
        )
    return digest.hexdigest()


#: The content digests known in this process, by tree and state (``tree_state``): a
#: universal run compares the targets' trees before it builds, then its build step checks
#: them again, and reading every file twice would double the cost.
_content_digests: dict[tuple[str, str], str] = {}


def tree_content_digest(root: Path, state: str | None = None) -> str:
    """The sha256 (hex) of ``root``'s files: each one's relative path, whether it is
    executable, and its bytes (a link: its target), in sorted order. Two trees with the same
    digest hold the same files, whenever and wherever they were installed. Read again only
    when the tree's state (``state``, taken now when None) is not one already read."""
    key = (os.fspath(root), state or tree_state(root))
    found = _content_digests.get(key)
    if found is None:
        found = _content_digests[key] = _content_digest(root)
    return found


def remember_content_digest(root: Path, state: str, content: str) -> None:
    """Take ``content`` as the content digest of ``root`` while its state is ``state`` (what
    a build record vouches for), so that ``tree_content_digest`` does not read the tree."""
    _content_digests[os.fspath(root), state] = content


#: What a source folder holds that is not its source: build outputs, caches, environments.
NOT_SOURCE = frozenset(
    os.fsencode(name)
    for name in ("build", "dist", ".git", ".hg", ".venv", "venv", ".tox", ".nox",
                 "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules")
)  # fmt: skip


def source_digest(path: Path) -> str:
    """The sha256 (hex) of a local package's source: a file's bytes, or a folder's files
    (paths, executable bits, bytes) without its build outputs and caches (``NOT_SOURCE``,
    ``*.egg-info``)."""
    if path.is_file():
        return sha256_file(path)
    return _content_digest(path, NOT_SOURCE)


def _content_digest(root: Path, skipped: frozenset[bytes] = frozenset()) -> str:
    digest = hashlib.sha256()
    for relative, full, st in _entries(root, skipped):
        digest.update(relative + b"\0")
        if stat.S_ISLNK(st.st_mode):
            digest.update(b"l:" + os.readlink(full) + b"\n")
            continue
        executable = bool(st.st_mode & stat.S_IXUSR)
        digest.update(f"f:{int(executable)}:{sha256_file(Path(os.fsdecode(full)))}\n".encode())
    return digest.hexdigest()
