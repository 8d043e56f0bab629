"""The build record: what the last successful build wrote beside its tree, and whether the
tree is still what that build installed.

``build-record.json`` sits beside ``python/`` (``LayerPathLayout.path_build_record``). It
names the build (fingerprint, installer, target, distributions) and the tree: its state
(``tree_state``: one ``lstat`` per file, change times and inodes included) and its content
digest (``tree_content_digest``: every file read once, at build time). A tree whose state
is the recorded one is the build's, without reading a byte; a tree whose state moved is
read, and is the build's only when its content digest is the recorded one (its state is
then recorded again, so the next run is fast again). Records of the first format hold only
a digest of modification times (``tree_digest``), trusted as it was until the tree is read
once and its record brought up to date.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from layer_builder.archive.safe_files import write_replacing
from layer_builder.errors import MismatchedBuildError
from layer_builder.model.tree_state import (
    remember_content_digest,
    tree_content_digest,
    tree_digest,
    tree_state,
)

logger = logging.getLogger(__name__)

BUILD_RECORD_NAME = "build-record.json"


def record_beside(dir_python: Path) -> Path:
    """Where the build of the tree at ``dir_python`` keeps its record (``artifacts/python``
    -> ``artifacts/build-record.json``)."""
    return dir_python.with_name(BUILD_RECORD_NAME)


def read_record(path_record: Path) -> dict[str, Any]:
    """The record at ``path_record`` (empty when there is none, or it is not a JSON object)."""
    try:
        record = json.loads(path_record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_record(path_record: Path, record: dict[str, Any]) -> None:
    """Write ``record`` whole (a reader never sees half of it)."""
    write_replacing(path_record, json.dumps(record, indent=2, sort_keys=True).encode())


def tree_fields(dir_python: Path) -> dict[str, str]:
    """What a record says of the tree just built: its state and its content digest."""
    state = tree_state(dir_python)
    return {"tree_state": state, "tree_content_digest": tree_content_digest(dir_python, state)}


def tree_is_recorded(dir_python: Path, path_record: Path, record: dict[str, Any]) -> bool:
    """Whether the tree at ``dir_python`` holds the files ``record`` (read from
    ``path_record``) says its build installed. Reads the tree only when its state moved;
    when only its state moved, records the new state (call it under the folder lock)."""
    state = tree_state(dir_python)
    content = record.get("tree_content_digest")
    if not isinstance(content, str):
        return _legacy_is_recorded(dir_python, path_record, record, state)
    if record.get("tree_state") == state:
        remember_content_digest(dir_python, state, content)
        return True
    if tree_content_digest(dir_python, state) != content:
        return False
    logger.debug("%s: same files, another state (a link made, a copy): recorded", dir_python)
    _record_again(path_record, record, {"tree_state": state})
    return True


def _legacy_is_recorded(
    dir_python: Path, path_record: Path, record: dict[str, Any], state: str
) -> bool:
    """A record of the first format: its digest of modification times is trusted once,
    and the record brought up to date."""
    if record.get("tree_digest") != tree_digest(dir_python):
        return False
    content = tree_content_digest(dir_python, state)
    _record_again(path_record, record, {"tree_state": state, "tree_content_digest": content})
    return True


def _record_again(path_record: Path, record: dict[str, Any], changes: dict[str, str]) -> None:
    """``record`` with ``changes``, unless the file no longer holds ``record`` (a build
    wrote another since it was read: that one stands)."""
    if read_record(path_record) != record:
        return
    updated = {k: v for k, v in record.items() if k != "tree_digest"}
    updated.update(changes)
    write_record(path_record, updated)


def check_tree_is_built(dir_python: Path) -> None:
    """Refuse the tree at ``dir_python`` when its build record says other files were
    installed (a tree with no record, made by hand or by another tool, is not checked)."""
    path_record = record_beside(dir_python)
    record = read_record(path_record)
    if not record or not ({"tree_content_digest", "tree_digest"} & record.keys()):
        return
    if not tree_is_recorded(dir_python, path_record, record):
        raise MismatchedBuildError(
            f"{dir_python} changed since it was built (its files are not those "
            f"{path_record.name} records): run `layer-builder build --rebuild` (or "
            f"`layer-builder run --rebuild`) to install it again, then package"
        )
