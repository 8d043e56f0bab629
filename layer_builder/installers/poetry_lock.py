"""Read a current ``poetry.lock`` directly, for one target, without starting Poetry.

Starting Poetry costs 1-3 s of imports, more than installing a small layer with uv, and a
host may have no Poetry at all. A lock of format 2.1 (Poetry >= 2.0) records each package's
groups and markers, which is all an export needs: this module selects the packages of the
wanted groups whose markers hold on the target. A lock of format 2.0 (Poetry 1.5 to 1.8)
records neither, so its dependency graph is walked from the project's dependencies
(:mod:`layer_builder.installers.poetry_graph`). Either way the packages are written pinned
with their hashes. Only what cannot be done exactly (an older format, packages from other
sources than PyPI, a lock that may be stale) raises ``PoetryNeeded``, saying why, so that the
caller runs ``poetry export``.

Freshness is Poetry's own test: the lock's ``content-hash`` against the sha256 of the
relevant parts of pyproject.toml, computed as ``poetry.packages.locker.Locker`` does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name

from layer_builder.installers.poetry_graph import GraphWalk, PoetryNeeded, root_edges
from layer_builder.installers.python_range import check_python_range
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget, marker_environment

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

logger = logging.getLogger(__name__)

_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_RELEVANT_KEYS = (*_LEGACY_KEYS, "group")
_RELEVANT_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")


def content_hash(pyproject: dict[str, Any]) -> str:
    """The ``content-hash`` Poetry 2.3+ writes for this pyproject.toml data."""
    project = pyproject.get("project", {})
    groups = pyproject.get("dependency-groups", {})
    tool_poetry = pyproject.get("tool", {}).get("poetry", {})
    relevant_project = {k: project[k] for k in _RELEVANT_PROJECT_KEYS if project.get(k) is not None}
    relevant_poetry = {}
    for key in _RELEVANT_KEYS:
        data = tool_poetry.get(key)
        if data is None and (key not in _LEGACY_KEYS or relevant_project or groups):
            continue
        relevant_poetry[key] = data
    relevant: dict[str, Any] = {}
    if relevant_project:
        relevant["project"] = relevant_project
    if groups:
        relevant["dependency-groups"] = groups
    if relevant:
        relevant["tool"] = {"poetry": relevant_poetry}
    else:
        relevant = relevant_poetry
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def _holds(marker: str, target: LayerTarget, extras: Iterable[str]) -> bool:
    parsed = Marker(marker)
    return any(parsed.evaluate(marker_environment(target, extra)) for extra in ("", *extras))


def _package_marker(package: dict[str, Any], groups: set[str]) -> list[str]:
    """The markers (``*`` = always) under which ``package`` is needed by ``groups``."""
    locked = package.get("markers", "*")
    member_of = {canonicalize_name(g) for g in package.get("groups", ())}
    selected = member_of & groups
    if isinstance(locked, str):
        return [locked] if selected else []
    by_group = {canonicalize_name(g): m for g, m in locked.items()}
    return [by_group.get(g, "*") for g in sorted(selected)]


def _lock_version(metadata: dict[str, Any]) -> tuple[int, ...]:
    parts = str(metadata.get("lock-version", "0")).split(".")
    return tuple(int(p) for p in parts if p.isdigit())


def _sources(pyproject: dict[str, Any]) -> list[str]:
    """The names of the package sources other than PyPI that pyproject.toml declares."""
    declared = pyproject.get("tool", {}).get("poetry", {}).get("source", [])
    return [
        str(source.get("name"))
        for source in declared
        if isinstance(source, dict) and (source.get("url") or str(source.get("name")) != "PyPI")
    ]


def _selected_by_groups(
    lock: dict[str, Any], target: LayerTarget, groups: set[str], extras: Sequence[str]
) -> list[Mapping[str, Any]]:
    """The packages a lock of format 2.1 records for ``groups`` under markers that hold."""
    selected: list[Mapping[str, Any]] = []
    for package in lock.get("package", []):
        try:
            markers = _package_marker(package, groups)
            needed = any(m == "*" or _holds(m, target, extras) for m in markers)
        except InvalidMarker as exc:
            name = package.get("name")
            raise PoetryNeeded(f"a marker of {name} is not understood ({exc})") from None
        if needed:
            selected.append(package)
    return selected


def read_project(lock_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The lock and the pyproject.toml beside it, parsed."""
    try:
        lock = tomllib.loads(lock_path.read_text(encoding="utf-8"))
        pyproject = tomllib.loads((lock_path.parent / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PoetryNeeded(f"{lock_path} or its pyproject.toml cannot be read ({exc})") from None
    return lock, pyproject


def export_for_target(
    lock_path: Path,
    target: LayerTarget,
    groups: Iterable[str] = (),
    extras: Iterable[str] = (),
    *,
    pins_only: bool = False,
) -> str:
    """The requirements (pinned, hashed where the lock lists hashes, no markers) of a
    current lock for ``target``. ``pins_only``: just ``name==version`` lines, from a lock of
    any source (what ``plan`` compares). Raises ``PoetryNeeded`` (why) when only
    ``poetry export`` can answer exactly."""
    lock, pyproject = read_project(lock_path)
    metadata = lock.get("metadata", {})
    version = _lock_version(metadata)
    if version < (2, 0):
        raise PoetryNeeded(f"its lock-version {metadata.get('lock-version')} predates Poetry 1.5")
    if metadata.get("content-hash") != content_hash(pyproject):
        raise PoetryNeeded(
            "its content-hash does not match pyproject.toml: the lock is stale (run `poetry "
            "lock`), or was written by a Poetry whose hash this tool does not compute"
        )
    sources = _sources(pyproject)
    if sources and not pins_only:
        # The lock's sources become index lines that only Poetry writes exactly.
        raise PoetryNeeded(f"it installs from the package sources {', '.join(sources)}")
    wanted_groups = {"main", *(canonicalize_name(g) for g in groups)}
    wanted_extras = [canonicalize_name(e) for e in extras]
    if version >= (2, 1):
        packages = _selected_by_groups(lock, target, wanted_groups, wanted_extras)
    else:
        walk = GraphWalk(lock.get("package", []), target)
        chosen = walk.walk(root_edges(pyproject, wanted_groups, wanted_extras))
        packages = [package for package, _ in chosen.values()]
    lines = []
    for package in sorted(packages, key=lambda p: canonicalize_name(p["name"])):
        source = package.get("source")
        if source and not pins_only:
            kind = source.get("type", "another source") if isinstance(source, dict) else source
            raise PoetryNeeded(f"it installs {package['name']} from a {kind}")
        line = f"{package['name']}=={package['version']}"
        hashes = sorted({f["hash"] for f in package.get("files", []) if f.get("hash")})
        if pins_only or not hashes:
            lines.append(line)
        else:
            lines.append(" \\\n".join([line, *(f"    --hash={h}" for h in hashes)]))
    logger.debug("read %s directly: %d packages for %s", lock_path, len(lines), target.runtime)
    return "\n".join(lines) + "\n"


def check_poetry_python(manifest: Manifest, target: LayerTarget) -> None:
    """Refuse a target outside the Python range the lock was made for (``python-versions``
    of its metadata: ``[tool.poetry.dependencies] python`` or ``requires-python``)."""
    try:
        lock = tomllib.loads(manifest.content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # Poetry's own reading says what is wrong with it
    constraint = lock.get("metadata", {}).get("python-versions")
    if isinstance(constraint, str):
        check_python_range(
            manifest, target, constraint, where="python-versions in poetry.lock", poetry_syntax=True
        )
