"""What an override of ``PackageStep.select_files()`` returned, checked and measured.

The override may leave files out, and may also add a file or put another file at a path of
the tree (a configuration file, a patched module): each such file is measured (its size
counts against Lambda's limit and in the size report; its executable bit goes into the
zip), and a link is followed to the file it names. A path that would not land under
``python/`` in the zip, or a file that is not a regular file, is refused in one line.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from layer_builder.errors import PackageError
from layer_builder.steps.package.tree import TreeFiles


def _is_layer_path(relative: object) -> bool:
    """``pkg/module.py``: relative, ``/`` between names, no ``.``/``..``, valid UTF-8."""
    if not isinstance(relative, str) or not relative or "\\" in relative:
        return False
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return all(part not in ("", ".", "..") for part in relative.split("/"))


def checked_selection(selected: Mapping[str, Path], walked: TreeFiles, hook: str) -> TreeFiles:
    """The files ``hook`` (``MyStep.select_files()``) returned, with each one's size and
    mode: the walk's for a file of the tree, measured now for one the hook added."""
    files: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    modes: dict[str, int] = {}
    for relative, path in selected.items():
        if not _is_layer_path(relative):
            raise PackageError(
                f"{hook} returned the path {relative!r}, which is not a file's place in the "
                f"layer: return paths relative to the tree, with / between names and no "
                f"'.' or '..' (like 'pkg/module.py')"
            )
        if walked.files.get(relative) == path:
            files[relative], sizes[relative] = path, walked.sizes[relative]
            modes[relative] = walked.modes[relative]
            continue
        try:
            source = Path(os.path.realpath(path))
            st: os.stat_result | None = source.stat()
        except (OSError, TypeError):
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            raise PackageError(
                f"{hook} put {path!s} at {relative}, which is not a regular file (missing, "
                f"or a folder): return existing files (a folder's files one by one)"
            )
        files[relative], sizes[relative] = source, st.st_size
        modes[relative] = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
    return TreeFiles(files, sizes, modes)
