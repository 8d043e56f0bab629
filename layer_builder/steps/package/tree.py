"""The files of an installed tree that go into the zip, and the trees that are refused.

A wheel cannot hold a symbolic link, so a link in the tree was put there by something else (a
build hook, a hand, an attacker) and is never followed blindly:

- a link to a regular file **inside** the tree is stored as a regular file with that content
  (and the target's executable bit);
- a link whose target **leaves** the tree is refused: its content (a credentials file, say)
  never reaches the zip;
- a link to a folder is refused (following folder links risks cycles and duplicates), and so
  is a dangling link.

An unreadable folder, a name that is not valid UTF-8 (a zip member name is UTF-8) and a file
that vanishes during the walk are errors too, each one line naming the path and the fix;
sockets, FIFOs and devices are left out with a notice.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import attrs

from layer_builder.errors import PackageError

logger = logging.getLogger(__name__)


@attrs.frozen
class TreeFiles:
    """``{relative posix path: file to read}``, with each file's size and normalised mode."""

    files: dict[str, Path]
    sizes: dict[str, int]
    modes: dict[str, int]


def _printable(path: str) -> str:
    """A path with undecodable bytes shown as ``\\xe9`` escapes, so it prints on one line."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _check_name(full: str, name: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PackageError(
            f"{_printable(full)} has a name that is not valid UTF-8, and a zip member name "
            f"must be: rename it (or remove it) in the tree, or fix the package that made it"
        ) from None


def _inside(path: str, real_root: str) -> bool:
    return path == real_root or path.startswith(real_root + os.sep)


def _follow_link(full: str, real_root: str) -> os.stat_result:
    """The stat of the regular file the link ``full`` leads to within the tree, or an error."""
    target = os.readlink(full)
    resolved = os.path.realpath(full)
    if not _inside(resolved, real_root):
        raise PackageError(
            f"{_printable(full)} is a symbolic link to {_printable(target)}, outside the layer "
            f"tree {_printable(real_root)}: its content is not zipped; remove the link, or "
            f"put a copy of what the layer needs in the tree"
        )
    try:
        st = os.stat(resolved)
    except OSError:
        raise PackageError(
            f"{_printable(full)} is a dangling symbolic link (to {_printable(target)}): remove "
            f"it, or point it at a file inside the tree"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise PackageError(
            f"{_printable(full)} is a symbolic link to a folder ({_printable(target)}), and "
            f"folder links are not followed: replace it with a copy of the folder, or remove it"
        )
    return st


def walk_tree(root: Path, skipped: set[str]) -> TreeFiles:
    """The files under ``root`` (relative paths not in ``skipped``), in sorted order, with
    one ``lstat`` per file (and one more per link)."""
    real_root = os.path.realpath(root)
    files: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    modes: dict[str, int] = {}
    pending = [(real_root, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            raise PackageError(
                f"cannot read the folder {_printable(directory)} ({exc.strerror}): make it "
                f"readable (chmod -R u+rX {_printable(real_root)}) or build again"
            ) from None
        folders = []
        for entry in entries:
            _check_name(entry.path, entry.name)
            relative = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, relative + "/"))
                    continue
                if relative in skipped:
                    continue
                st = entry.stat(follow_symlinks=False)
                source = entry.path
                if stat.S_ISLNK(st.st_mode):
                    st = _follow_link(entry.path, real_root)
                    source = os.path.realpath(entry.path)
            except FileNotFoundError:
                raise PackageError(
                    f"{_printable(entry.path)} vanished while the tree was read: leave the "
                    f"tree alone while packaging, then retry"
                ) from None
            except OSError as exc:
                raise PackageError(
                    f"cannot read {_printable(entry.path)} ({exc.strerror}): make it readable "
                    f"(chmod -R u+rX {_printable(real_root)}) or build again"
                ) from None
            if not stat.S_ISREG(st.st_mode):
                logger.info("left out %s: not a regular file", _printable(entry.path))
                continue
            files[relative] = Path(source)
            sizes[relative] = st.st_size
            modes[relative] = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
        pending.extend(reversed(folders))
    return TreeFiles(files, sizes, modes)
