"""Which distributions of the tree the package step leaves out, and which it keeps because a
distribution that stays in the layer requires them.

Under the default list, what the Lambda runtime provides (boto3, botocore, s3transfer) is left
out whatever requires it, and a build tool (pip, setuptools, wheel) only when nothing kept
requires it: packages that import ``pkg_resources`` need the locked setuptools, since Python
3.12+ bundles none. A list given by hand is followed as given, with a warning for each name a
kept distribution requires.

"Requires" is read from each installed distribution's ``Requires-Dist`` (its
``*.dist-info/METADATA``), markers evaluated for the Lambda runtime with the extras the build
installed and those the kept distributions ask of each other (``pyramid[testing]``), and
followed through the tree: a build tool kept for one distribution counts its own
requirements too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from email.parser import HeaderParser
from pathlib import Path

import attrs
from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from layer_builder.errors import PackageError
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.model.target import LayerTarget, marker_environment
from layer_builder.steps.package.options import RUNTIME_PROVIDED, PackageOptions

logger = logging.getLogger(__name__)

# The name a requirement starts with (PEP 508), for a line packaging cannot parse.
_LEADING_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


@attrs.frozen
class Exclusion:
    """The tree's distributions split into those left out and those kept."""

    excluded: tuple[InstalledDistribution, ...]
    kept: tuple[InstalledDistribution, ...]
    #: ``{name: kept distributions that require it}`` for each build tool kept on that ground.
    kept_for: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: ``{name: kept distributions that require it}`` for each name left out as asked though
    #: required (what the Lambda runtime provides is not listed: it is there).
    required_but_excluded: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)


def _requirement(dist: InstalledDistribution, line: str) -> Requirement | None:
    try:
        return Requirement(line)
    except InvalidRequirement:
        leading = _LEADING_NAME.match(line)
        if leading is None:
            logger.warning("%s declares the unreadable requirement %r: ignored", dist.name, line)
            return None
        # Rather keep a build tool for nothing than leave out one that is imported.
        logger.warning(
            "%s declares the unreadable requirement %r: counted as requiring %s on every "
            "target",
            dist.name, line, leading[1],
        )  # fmt: skip
        return Requirement(leading[1])


def read_requirements(dir_python: Path, dist: InstalledDistribution) -> tuple[Requirement, ...]:
    """The ``Requires-Dist`` of ``dist``, installed in ``dir_python``, markers unevaluated."""
    path = dir_python / dist.dist_info / "METADATA"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise PackageError(
            f"cannot read {path} ({exc.strerror}): make it readable or build again"
        ) from None
    lines = HeaderParser().parsestr(text).get_all("Requires-Dist") or []
    found = (_requirement(dist, str(line)) for line in lines)
    return tuple(r for r in found if r is not None)


def _holds(marker: Marker | None, target: LayerTarget, extras: Iterable[str]) -> bool:
    if marker is None:
        return True
    try:
        return any(marker.evaluate(marker_environment(target, e)) for e in ("", *extras))
    except (UndefinedComparison, UndefinedEnvironmentName):
        return True  # a marker that cannot be judged may hold: keep what it asks for


def _spread(
    requirements: Mapping[str, Sequence[Requirement]],
    target: LayerTarget,
    extras: Collection[str],
    kept: set[str],
    optional: Collection[str],
) -> dict[str, set[str]]:
    """Add to ``kept`` the names of ``optional`` that a kept distribution requires, until none
    is added; return ``{required name: its requirers}`` among the kept distributions."""
    asked: dict[str, set[str]] = {}  # the extras kept distributions ask of each other
    while True:
        required_by: dict[str, set[str]] = {}
        grew = False
        for name in sorted(kept):
            holding = {*extras, *asked.get(name, ())}
            for requirement in requirements.get(name, ()):
                if not _holds(requirement.marker, target, holding):
                    continue
                wanted = canonicalize_name(requirement.name)
                required_by.setdefault(wanted, set()).add(name)
                more = set(requirement.extras) - asked.get(wanted, set())
                if more:
                    asked.setdefault(wanted, set()).update(more)
                    grew = True
                if wanted in optional and wanted not in kept:
                    kept.add(wanted)
                    grew = True
        if not grew:
            return required_by


def decide_exclusion(
    dir_python: Path,
    distributions: Sequence[InstalledDistribution],
    options: PackageOptions,
    target: LayerTarget,
    extras: Collection[str] = (),
) -> Exclusion:
    """Split ``distributions`` (the tree ``dir_python``'s) by ``options.excludes``, keeping
    the build tools a kept distribution requires on ``target`` (see the module's docstring).
    Logs each build tool kept (INFO) and each name left out as asked though required
    (WARNING), with who requires it."""
    by_name = {d.canonical_name: d for d in distributions}
    listed = [n for n in options.excludes if n in by_name]
    optional = set(options.kept_when_required) & set(listed)
    kept = {n for n in by_name if n not in listed}
    kept_for: dict[str, tuple[str, ...]] = {}
    required_but_excluded: dict[str, tuple[str, ...]] = {}
    # Requirements are read only when they may change something: a tool kept, a warning.
    if optional or any(n not in RUNTIME_PROVIDED for n in listed):
        requirements = {n: read_requirements(dir_python, d) for n, d in by_name.items()}
        required_by = _spread(requirements, target, extras, kept, optional)

        def requirers(name: str) -> tuple[str, ...]:
            return tuple(sorted(by_name[r].name for r in required_by.get(name, ())))

        kept_for = {by_name[n].name: requirers(n) for n in sorted(optional & kept)}
        required_but_excluded = {
            by_name[n].name: requirers(n)
            for n in listed
            if n not in kept and n not in RUNTIME_PROVIDED and required_by.get(n)
        }
    for name, who in kept_for.items():
        logger.info("kept %s: required by %s", name, ", ".join(who))
    for name, who in required_but_excluded.items():
        logger.warning(
            "left out %s as asked, though %s %s it: %s may fail to import unless another "
            "layer provides %s; remove %s from the excludes (--exclude, or exclude = [...] in "
            "[tool.layer_builder]) to keep it",
            name, ", ".join(who), "requires" if len(who) == 1 else "require", who[0], name,
            name,
        )  # fmt: skip
    return Exclusion(
        excluded=tuple(d for n, d in by_name.items() if n not in kept),
        kept=tuple(d for n, d in by_name.items() if n in kept),
        kept_for=kept_for,
        required_but_excluded=required_but_excluded,
    )
