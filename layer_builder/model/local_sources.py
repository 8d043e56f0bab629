"""The local packages a manifest installs (a folder or file of the project), by content.

A requirements line ``./libs/shared`` or a uv workspace member installs code that no lock
hash pins: the manifest's bytes stay the same when that code changes. The content of each
local package is therefore part of what identifies a build (the fingerprint, the build
cache), so that an edit to the local library publishes a new version.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from layer_builder.errors import LayerBuilderError
from layer_builder.model.requirements_file import read_requirements_file
from layer_builder.model.tree_state import source_digest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

logger = logging.getLogger(__name__)


def _from_requirements(path: Path) -> list[Path]:
    try:
        file = read_requirements_file(path)
    except LayerBuilderError as exc:
        logger.debug("no local packages read from %s: %s", path, exc)
        return []  # the installer reports what is wrong with the file
    return [r.path for r in file.requirements if r.path is not None]


def _from_uv_lock(content: bytes, project_dir: Path) -> list[Path]:
    try:
        lock = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    found = []
    for package in lock.get("package", []):
        source = package.get("source", {})
        for kind in ("directory", "editable", "path"):
            where = source.get(kind) if isinstance(source, dict) else None
            if isinstance(where, str) and where != ".":
                found.append((project_dir / where).resolve())
    return found


def local_sources(tool: str, path: Path, content: bytes) -> tuple[tuple[str, str], ...]:
    """``(path relative to the project where possible, sha256 of its source)`` for each local
    package the manifest at ``path`` installs (``tool``: the manifest's tool name)."""
    project_dir = path.parent
    if tool == "pip":
        paths = _from_requirements(path)
    elif tool == "uv":
        paths = _from_uv_lock(content, project_dir)
    else:
        paths = []
    found = {}
    for local in paths:
        if not local.exists():
            continue  # the installer names it
        try:
            shown = local.relative_to(project_dir).as_posix()
        except ValueError:
            shown = local.as_posix()
        found[shown] = source_digest(local)
    return tuple(sorted(found.items()))
