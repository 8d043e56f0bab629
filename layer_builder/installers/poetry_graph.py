"""Select a ``poetry.lock``'s packages for one target by walking its dependency graph.

A lock of format 2.0 (what Poetry 1.5 to 1.8 write, most locks in the wild) records no
groups or markers per package, only each package's own dependencies. What a target installs
is what the project's dependencies (of the wanted groups and extras) reach in that graph, an
edge kept when its markers and Python constraint hold on the target, an optional
dependency only when an extra asked for on its package names it. That is the walk
``poetry export`` makes; for one concrete target every marker has a value, so the walk is
exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from layer_builder.installers.python_range import admits_python, poetry_specifiers
from layer_builder.model.target import LayerTarget, marker_environment


class PoetryNeeded(Exception):
    """Only Poetry can read this lock exactly; the message says why."""


@attrs.frozen
class Edge:
    """A dependency: on ``name``, within ``constraint`` (Poetry syntax), with ``extras``."""

    name: NormalizedName
    constraint: str = "*"
    extras: frozenset[str] = frozenset()
    markers: str = ""
    python: str = ""
    optional: bool = False


def _canonical_extras(values: Iterable[str]) -> frozenset[str]:
    return frozenset(canonicalize_name(v) for v in values)


def edges_of(name: str, spec: object) -> Iterator[Edge]:
    """The edges a ``[package.dependencies]`` (or ``[tool.poetry.dependencies]``) entry
    declares: a constraint string, a table, or a list of tables (one per constraint)."""
    key = canonicalize_name(name)
    for item in spec if isinstance(spec, list) else [spec]:
        if isinstance(item, str):
            yield Edge(key, item)
        elif isinstance(item, dict):
            yield Edge(
                key,
                str(item.get("version", "*")),
                _canonical_extras(item.get("extras", ())),
                str(item.get("markers", "")),
                str(item.get("python", "")),
                bool(item.get("optional", False)),
            )


def edge_of_requirement(text: str) -> Edge:
    """A PEP 508 requirement (``[project] dependencies``) as an edge."""
    requirement = Requirement(text)
    return Edge(
        canonicalize_name(requirement.name),
        str(requirement.specifier) or "*",
        _canonical_extras(requirement.extras),
        str(requirement.marker or ""),
    )


def holds_on(target: LayerTarget, edge: Edge, extras: frozenset[str]) -> bool:
    """Whether ``edge``'s markers and Python constraint hold on ``target``, with the
    parent's active ``extras``."""
    if edge.python and not admits_python(poetry_specifiers(edge.python), target.python_version):
        return False
    if not edge.markers:
        return True
    marker = Marker(edge.markers)
    return any(marker.evaluate(marker_environment(target, e)) for e in ("", *extras))


def _admits(constraint: str, version: str) -> bool:
    try:
        parsed = Version(version)
        return any(s.contains(parsed, prereleases=True) for s in poetry_specifiers(constraint))
    except (InvalidSpecifier, InvalidVersion):
        return False


def _admits_target(package: Mapping[str, Any], python_version: str) -> bool:
    constraint = str(package.get("python-versions", "*"))
    try:
        return admits_python(poetry_specifiers(constraint), python_version)
    except InvalidSpecifier:
        raise PoetryNeeded(
            f"the Python constraint {constraint!r} of {package.get('name')} is not understood"
        ) from None


_EXTRA_ENTRY = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^]]*)\])?")


def extra_members(package: Mapping[str, Any], extras: Iterable[str]) -> dict[str, frozenset[str]]:
    """The dependencies (name -> their own extras) that ``extras`` of ``package`` turn on;
    ``[package.extras]`` entries read like ``"uvicorn[standard] (>=0.12.0)"``."""
    declared: dict[str, list[str]] = {
        canonicalize_name(k): list(v) for k, v in package.get("extras", {}).items()
    }
    members: dict[str, frozenset[str]] = {}
    for extra in extras:
        for entry in declared.get(extra, []):
            match = _EXTRA_ENTRY.match(str(entry))
            if match:
                names = (match["extras"] or "").split(",")
                key = canonicalize_name(match["name"])
                more = _canonical_extras(n.strip() for n in names if n.strip())
                members[key] = members.get(key, frozenset()) | more
    return members


class GraphWalk:
    """The walk over one lock's packages for one target."""

    def __init__(self, packages: Iterable[Mapping[str, Any]], target: LayerTarget):
        self.target = target
        self.by_name: dict[str, list[Mapping[str, Any]]] = {}
        for package in packages:
            self.by_name.setdefault(canonicalize_name(package["name"]), []).append(package)
        #: canonical name -> (the chosen package, the extras asked of it)
        self.selected: dict[str, tuple[Mapping[str, Any], frozenset[str]]] = {}

    def _choose(self, edge: Edge) -> Mapping[str, Any]:
        version = self.target.python_version
        candidates = [
            package
            for package in self.by_name.get(edge.name, [])
            if _admits(edge.constraint, str(package["version"]))
            and _admits_target(package, version)
        ]
        if not candidates:
            raise PoetryNeeded(
                f"the lock has no {edge.name} {edge.constraint} for Python {version}, which a "
                f"dependency asks for"
            )
        return candidates[0]

    def walk(self, roots: Iterable[Edge]) -> dict[str, tuple[Mapping[str, Any], frozenset[str]]]:
        """Every package the ``roots`` reach on the target, with the extras asked of it."""
        pending = [(edge, frozenset[str]()) for edge in roots]
        while pending:
            edge, parent_extras = pending.pop()
            try:
                if not holds_on(self.target, edge, parent_extras):
                    continue
            except (InvalidMarker, InvalidSpecifier) as exc:
                raise PoetryNeeded(
                    f"a marker of {edge.name} is not understood here ({exc})"
                ) from None
            known = self.selected.get(edge.name)
            if known is not None and edge.extras <= known[1]:
                continue
            package = known[0] if known is not None else self._choose(edge)
            extras = edge.extras | (known[1] if known is not None else frozenset())
            self.selected[edge.name] = (package, extras)
            turned_on = extra_members(package, extras)
            for name, spec in package.get("dependencies", {}).items():
                for dependency in edges_of(name, spec):
                    if dependency.optional and dependency.name not in turned_on:
                        continue
                    more = turned_on.get(dependency.name, frozenset())
                    pending.append((attrs.evolve(dependency, extras=dependency.extras | more),
                                    extras))  # fmt: skip
        return self.selected


def root_edges(
    pyproject: Mapping[str, Any], groups: Iterable[str], extras: Iterable[str]
) -> list[Edge]:
    """The project's own dependencies of the main group, ``groups`` and ``extras``, from
    ``[project]`` (Poetry 2) or ``[tool.poetry]`` (Poetry 1)."""
    project = pyproject.get("project", {})
    poetry = pyproject.get("tool", {}).get("poetry", {})
    wanted_extras = {canonicalize_name(e) for e in extras}
    wanted_groups = {canonicalize_name(g) for g in groups} - {"main"}
    edges: list[Edge] = []
    try:
        if "dependencies" in project:
            edges += [edge_of_requirement(r) for r in project["dependencies"]]
            for extra, requirements in project.get("optional-dependencies", {}).items():
                if canonicalize_name(extra) in wanted_extras:
                    edges += [edge_of_requirement(r) for r in requirements]
        else:
            in_extras = {
                canonicalize_name(name)
                for extra, names in poetry.get("extras", {}).items()
                if canonicalize_name(extra) in wanted_extras
                for name in names
            }
            for name, spec in poetry.get("dependencies", {}).items():
                if canonicalize_name(name) == "python":
                    continue
                for edge in edges_of(name, spec):
                    if not edge.optional or edge.name in in_extras:
                        edges.append(attrs.evolve(edge, optional=False))
        if "dev" in wanted_groups:  # Poetry before 1.2
            for name, spec in poetry.get("dev-dependencies", {}).items():
                edges += list(edges_of(name, spec))
        for group, table in poetry.get("group", {}).items():
            if canonicalize_name(group) in wanted_groups:
                for name, spec in table.get("dependencies", {}).items():
                    edges += list(edges_of(name, spec))
        for group, requirements in pyproject.get("dependency-groups", {}).items():
            if canonicalize_name(group) in wanted_groups:
                edges += [edge_of_requirement(r) for r in requirements if isinstance(r, str)]
    except InvalidRequirement as exc:
        raise PoetryNeeded(
            f"a requirement of pyproject.toml is not understood here ({exc})"
        ) from None
    return edges
