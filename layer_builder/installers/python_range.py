"""A project's Python range (``requires-python``, Poetry's ``python`` constraint) against
a Lambda target: a target outside the range is refused before anything is installed.

Outside the range, a lock still exports, but its markers (``python_version == "3.12"``)
select nothing for the target, or its pins have no wheel for it: an empty layer, or an error
that sends the user after the wrong package.

A target is a minor version (``3.12``) whose patch level Lambda chooses, so a range admits
it when it admits some ``3.12.x``: the first and a late patch release are tried.
"""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from layer_builder.errors import PythonRangeError
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import RUNTIME_GLIBC, LayerTarget

# Poetry's operators beyond PEP 440's: ^X.Y, ~X.Y (not ~=), a bare version, X.Y.*.
_POETRY_TERM = re.compile(r"(?P<op>\^|~(?!=)|~=|==|!=|>=|<=|>|<|=)?\s*(?P<version>[0-9][^\s,]*)")


def _bump(release: tuple[int, ...], index: int) -> str:
    bumped = [*release[:index], release[index] + 1]
    return ".".join(str(part) for part in bumped)


def _poetry_term(op: str, version: str) -> str:
    """One Poetry constraint term as PEP 440 specifiers."""
    if version.endswith(".*"):
        return f"{'!=' if op == '!=' else '=='}{version}"
    release = Version(version).release
    if op == "^":
        first_non_zero = next((i for i, part in enumerate(release) if part), len(release) - 1)
        return f">={version},<{_bump(release, first_non_zero)}"
    if op == "~":
        return f">={version},<{_bump(release, min(1, len(release) - 1))}"
    if op in ("", "="):
        return f"=={version}"
    return f"{op}{version}"


def poetry_specifiers(constraint: str) -> tuple[SpecifierSet, ...]:
    """Poetry's constraint syntax (``^3.11``, ``~3.12``, ``>=3.9,<4``, ``3.11.* || 3.12.*``)
    as alternatives of PEP 440 specifier sets; ``*`` and an empty text admit everything."""
    alternatives = []
    for alternative in re.split(r"\|\|?", constraint):
        text = alternative.strip()
        if text in ("", "*"):
            return (SpecifierSet(),)
        text = re.sub(r"(\^|~=|~|==|!=|>=|<=|>|<|=)\s+", r"\1", text)  # ">= 3.8"
        terms = []
        for part in re.split(r"\s*,\s*|\s+(?=[\^~=!<>0-9])", text):
            match = _POETRY_TERM.fullmatch(part.strip())
            if match is None:
                raise InvalidSpecifier(f"not a Poetry version constraint: {constraint!r}")
            try:
                terms.append(_poetry_term(match["op"] or "", match["version"]))
            except InvalidVersion:
                raise InvalidSpecifier(f"not a Poetry version constraint: {constraint!r}") from None
        alternatives.append(SpecifierSet(",".join(terms)))
    return tuple(alternatives)


def admits_python(specifiers: tuple[SpecifierSet, ...], python_version: str) -> bool:
    """Whether any of ``specifiers`` admits some patch release of ``python_version``."""
    candidates = (f"{python_version}.0", f"{python_version}.99")
    return any(s.contains(v, prereleases=True) for s in specifiers for v in candidates)


def check_python_range(
    manifest: Manifest,
    target: LayerTarget,
    constraint: str | None,
    *,
    where: str,
    poetry_syntax: bool = False,
) -> None:
    """Refuse ``target`` when the project's Python range ``constraint`` (read from ``where``,
    e.g. ``requires-python in uv.lock``) excludes it. An unreadable range is left to the
    installer, which reads it the same way the project's tool does."""
    if not constraint:
        return
    try:
        specifiers = poetry_specifiers(constraint) if poetry_syntax else (SpecifierSet(constraint),)
    except InvalidSpecifier:
        return
    if admits_python(specifiers, target.python_version):
        return
    fits = [f"python{v}" for v in RUNTIME_GLIBC if admits_python(specifiers, v)]
    advice = (
        f"build for {', '.join(fits)} (e.g. --python {fits[0].removeprefix('python')})"
        if fits
        else "no Lambda Python runtime is in that range"
    )
    raise PythonRangeError(
        f"{manifest.path} is for Python {constraint} ({where}), which {target.runtime} is "
        f"not: {advice}, or widen the project's Python range and lock again"
    )
