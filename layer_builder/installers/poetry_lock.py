"""Read a current ``poetry.lock`` directly, for one target, without starting Poetry.

Starting Poetry costs 1-3 s of imports, more than installing a small layer with uv. A
lock of format 2.1 (Poetry >= 2.0) records each package's groups and markers, which is all
an export needs: this module selects the packages of the wanted groups whose markers hold
on the target, and writes them pinned with their hashes. It handles only what it can do
exactly and returns None for anything else (an older lock format, packages from other
sources than PyPI, a lock that may be stale), so that the caller runs ``poetry export``.

Freshness is Poetry's own test: the lock's ``content-hash`` against the sha256 of the
relevant parts of pyproject.toml, computed as ``poetry.packages.locker.Locker`` does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from layer_builder.model.target import LayerTarget

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


def marker_environment(target: LayerTarget, extra: str = "") -> dict[str, str]:
    """PEP 508 marker values of the Lambda runtime ``target`` (Amazon Linux, CPython)."""
    version = target.python_version
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "os_name": "posix",
        "platform_machine": target.machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{version}.0",
        "python_version": version,
        "sys_platform": "linux",
        "extra": extra,
    }


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


def export_for_target(
    lock_path: Path,
    target: LayerTarget,
    groups: Iterable[str] = (),
    extras: Iterable[str] = (),
    *,
    pins_only: bool = False,
) -> str | None:
    """The requirements (pinned, hashed, no markers) of a current PyPI-only lock for
    ``target``; None when only ``poetry export`` can answer exactly. ``pins_only``: just
    ``name==version`` lines, from a lock of any source (what ``plan`` compares)."""
    try:
        lock = tomllib.loads(lock_path.read_text(encoding="utf-8"))
        pyproject = tomllib.loads((lock_path.parent / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    metadata = lock.get("metadata", {})
    version = str(metadata.get("lock-version", "0")).split(".")
    if tuple(int(p) for p in version if p.isdigit()) < (2, 1):
        return None
    if metadata.get("content-hash") != content_hash(pyproject):
        return None  # stale, or hashed by an older Poetry: let Poetry decide
    if pyproject.get("tool", {}).get("poetry", {}).get("source") and not pins_only:
        return None  # the lock's sources become index lines only Poetry writes exactly
    requires_python = pyproject.get("project", {}).get("requires-python")
    try:
        if requires_python and target.python_version + ".0" not in SpecifierSet(requires_python):
            return None  # Poetry's export says what to do about it
    except InvalidSpecifier:
        return None
    wanted_groups = {"main", *(canonicalize_name(g) for g in groups)}
    wanted_extras = [canonicalize_name(e) for e in extras]
    lines = []
    for package in lock.get("package", []):
        if package.get("develop") or (package.get("source") and not pins_only):
            return None
        try:
            markers = _package_marker(package, wanted_groups)
            needed = any(m == "*" or _holds(m, target, wanted_extras) for m in markers)
        except InvalidMarker:
            return None
        if not needed:
            continue
        hashes = sorted({f["hash"] for f in package.get("files", []) if f.get("hash")})
        line = f"{package['name']}=={package['version']}"
        if pins_only:
            lines.append(line)
            continue
        if not hashes:
            return None
        lines.append(" \\\n".join([line, *(f"    --hash={h}" for h in hashes)]))
    logger.debug("read %s directly: %d packages for %s", lock_path, len(lines), target.runtime)
    return "\n".join(lines) + "\n"
