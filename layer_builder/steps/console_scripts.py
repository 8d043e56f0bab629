"""What a ``--target`` install writes that a layer does not hold: console scripts, and the
``RECORD`` lines that name them.

Installers put console scripts in ``bin/`` (uv) or beside the target (pip records them as
``../../bin/<name>``). A layer has no use for them: ``/opt/python/bin`` is on no ``PATH``.
Each script's first line names the interpreter that ran the installer, so its ``RECORD``
line (a hash and a size) changes with the host's venv path and Python: kept, it would make
the same lock give another zip on another host. So the scripts are deleted, and every
``RECORD`` line naming a file the tree does not hold is dropped, the other lines kept byte
for byte (``RECORD``'s own line, ``path,,``, among them).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import posixpath
import shutil
from pathlib import Path

from layer_builder.archive.safe_files import write_replacing

logger = logging.getLogger(__name__)


def drop_console_scripts(tree: Path) -> list[str]:
    """Delete ``tree/bin`` (the console scripts); their names, sorted."""
    scripts = tree / "bin"
    if not scripts.is_dir() or scripts.is_symlink():
        return []
    names = sorted(p.name for p in scripts.iterdir())
    shutil.rmtree(scripts)
    return names


def _names_a_file(root: str, entry: str) -> bool:
    """Whether the ``RECORD`` path ``entry`` is a file inside ``root`` (not one beside it,
    ``../../bin/tool``, nor an absolute path)."""
    normal = posixpath.normpath(entry)
    if normal.startswith(("/", "\\", "../")) or normal in (".", ".."):
        return False
    return os.path.isfile(os.path.join(root, normal))


def pruned_record(text: str, root: str) -> tuple[str, list[str]] | None:
    """``text`` (a ``RECORD``) without the lines naming what ``root`` does not hold, and
    the paths dropped; None when it cannot be read as CSV (the package step names it)."""
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(iter(lines), strict=True)
    kept: list[str] = []
    dropped: list[str] = []
    start = 0
    try:
        for row in reader:
            raw, start = "".join(lines[start : reader.line_num]), reader.line_num
            if row and row[0] and not _names_a_file(root, row[0]):
                dropped.append(row[0])
            else:
                kept.append(raw)
    except csv.Error:
        return None
    return "".join(kept), dropped


def prune_records(tree: Path) -> dict[str, list[str]]:
    """Rewrite each ``*.dist-info/RECORD`` of ``tree`` that names files the tree does not
    hold; returns the paths dropped, by ``*.dist-info`` folder."""
    root = os.fspath(tree)
    pruned: dict[str, list[str]] = {}
    for record in sorted(tree.glob("*.dist-info/RECORD")):
        try:
            text = record.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the package step refuses it, in words
        if "\0" in text:
            continue  # likewise
        result = pruned_record(text, root)
        if result is None or not result[1]:
            continue
        kept, dropped = result
        write_replacing(record, kept.encode("utf-8"))
        pruned[record.parent.name] = dropped
        logger.debug("%s: dropped the lines of %s", record.relative_to(tree), ", ".join(dropped))
    return pruned
