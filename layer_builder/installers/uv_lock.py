"""What a ``uv.lock`` says without uv: its Python range, and whether it still records the
dependencies its ``pyproject.toml`` declares.

uv's own freshness check (``uv lock --check``, ``uv export --locked``) resolves again and
needs an interpreter within the project's ``requires-python``. A layer is built for
Lambda's Python, not the host's, so a host may have none (a 3.11 CI runner, a project that
needs 3.12). Then the lock is compared with pyproject.toml here: the project's own
dependencies, optional dependencies and dependency groups, as uv records them in the lock
(``[package.metadata] requires-dist`` and ``requires-dev``), ``requires-python`` and the
project's version (uv's check refuses a lock that records another). That
catches a dependency added, removed or re-ranged without ``uv lock``; it does not see a
change of markers or of ``[tool.uv]`` settings, which only uv's check sees.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: One requirement as compared: canonical name, specifier set, sorted extras.
_Key = tuple[str, str, tuple[str, ...]]


def read_toml(content: bytes) -> dict[str, Any]:
    """A TOML document's tables (empty when it cannot be read: uv reports that itself)."""
    try:
        document: dict[str, Any] = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return document


def read_toml_file(path: Path) -> dict[str, Any]:
    """``read_toml`` of a file (empty when it is missing or unreadable)."""
    try:
        return read_toml(path.read_bytes())
    except OSError:
        return {}


def _specifier(text: str) -> str:
    try:
        return str(SpecifierSet(text))
    except InvalidSpecifier:
        return text


def _from_lock(entries: Iterable[Mapping[str, Any]]) -> Counter[_Key]:
    return Counter(
        (
            canonicalize_name(str(entry.get("name", ""))),
            _specifier(str(entry.get("specifier", ""))),
            tuple(sorted(canonicalize_name(e) for e in entry.get("extras", ()))),
        )
        for entry in entries
        if isinstance(entry, Mapping) and "name" in entry
    )


def _same_version(declared: object, locked: object) -> bool:
    try:
        return Version(str(declared)) == Version(str(locked))
    except InvalidVersion:
        return str(declared) == str(locked)


def _group_members(
    groups: Mapping[str, Any], name: str, seen: frozenset[str] = frozenset()
) -> list[str]:
    """A dependency group's requirements, ``{include-group = ...}`` expanded as uv records
    them."""
    members = []
    for entry in groups.get(name, []):
        if isinstance(entry, str):
            members.append(entry)
        elif isinstance(entry, Mapping) and entry.get("include-group") not in (None, *seen):
            members += _group_members(groups, str(entry["include-group"]), seen | {name})
    return members


def _from_pyproject(requirements: Iterable[str]) -> Counter[_Key]:
    keys: Counter[_Key] = Counter()
    for text in requirements:
        requirement = Requirement(text)
        extras = tuple(sorted(canonicalize_name(e) for e in requirement.extras))
        keys[(canonicalize_name(requirement.name), str(requirement.specifier), extras)] += 1
    return keys


def _root_package(lock: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for package in lock.get("package", []):
        source = package.get("source", {})
        at_root = source.get("editable") == "." or source.get("virtual") == "."
        if at_root and canonicalize_name(str(package.get("name", ""))) == name:
            return dict(package)
    return None


def _differences(what: str, locked: Counter[_Key], declared: Counter[_Key]) -> list[str]:
    changes = []
    for name, specifier, _ in sorted(declared - locked):
        changes.append(f"{what} {name}{specifier} is not in the lock")
    for name, specifier, _ in sorted(locked - declared):
        changes.append(f"the lock's {what} {name}{specifier} is no longer declared")
    return changes


def lock_mismatch(lock: Mapping[str, Any], pyproject: Mapping[str, Any]) -> str | None:
    """Why ``lock`` no longer records what ``pyproject`` declares (the first differences,
    in words), or None when it does as far as can be told without uv (a workspace, or a
    project without ``[project]``, is not compared)."""
    project = pyproject.get("project")
    if not isinstance(project, Mapping):
        return None
    if lock.get("manifest", {}).get("members"):
        return None  # a workspace: its members' pyproject.toml count too
    root = _root_package(lock, canonicalize_name(str(project.get("name", ""))))
    if root is None:
        return f"the lock records no package {project.get('name')!r} for the project"
    changes = []
    declared_version, locked_version = project.get("version"), root.get("version")
    if declared_version and locked_version and not _same_version(declared_version, locked_version):
        changes.append(f"the project's version is {declared_version}, the lock's {locked_version}")
    declared_python = project.get("requires-python")
    locked_python = lock.get("requires-python")
    if declared_python and _specifier(str(declared_python)) != _specifier(str(locked_python)):
        changes.append(f"requires-python is {declared_python}, the lock's {locked_python}")
    metadata = root.get("metadata", {})
    try:
        main = list(project.get("dependencies", []))
        for optional in project.get("optional-dependencies", {}).values():
            main += list(optional)
        changes += _differences(
            "dependency", _from_lock(metadata.get("requires-dist", [])), _from_pyproject(main)
        )
        groups = dict(pyproject.get("dependency-groups", {}))
        legacy_dev = pyproject.get("tool", {}).get("uv", {}).get("dev-dependencies")
        if legacy_dev:
            groups["dev"] = [*groups.get("dev", []), *legacy_dev]
        locked_groups = metadata.get("requires-dev", {})
        for group in sorted({*groups, *locked_groups}):
            changes += _differences(
                f"{group!r} group member",
                _from_lock(locked_groups.get(group, [])),
                _from_pyproject(_group_members(groups, group)),
            )
    except InvalidRequirement as exc:
        return f"pyproject.toml holds a requirement that is not PEP 508 ({exc})"
    return "; ".join(changes[:3]) or None
