"""The versions a manifest pins for a target, read without installing anything (for ``plan``).

A ``requirements.txt`` is read as it is; a ``pylock.toml`` and a ``poetry.lock`` through the
selection their installers make (:mod:`layer_builder.installers.pylock`,
:mod:`layer_builder.installers.poetry_lock`); a ``uv.lock`` through
``uv export --frozen``, which reads the lock without resolving it again. Markers are
evaluated for the target. When only a full Poetry run could answer (a stale or old-format
lock), or uv is missing, the pins are unknown rather than guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from layer_builder.errors import LayerBuilderError
from layer_builder.installers.base import IndexOptions, InstallOptions
from layer_builder.installers.pipenv import read_pipfile_lock, requirements_text
from layer_builder.installers.poetry_graph import PoetryNeeded
from layer_builder.installers.poetry_lock import export_for_target
from layer_builder.installers.pylock import requirements_for_target
from layer_builder.installers.tools import find_uv
from layer_builder.installers.uv import UvInstaller
from layer_builder.installers.uv_pip import scratch_file
from layer_builder.model.manifest import Manifest, Tool
from layer_builder.model.requirements_file import decode_requirements
from layer_builder.model.target import LayerTarget, marker_environment

logger = logging.getLogger(__name__)

# Lines of a requirements file that pull in requirements this reader does not follow.
_INCLUDES = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")


@attrs.frozen
class Pins:
    """What a manifest pins: ``versions`` is ``{canonical name: (name, version)}``, a version
    None when not pinned exactly; ``versions`` None when the manifest cannot be read here."""

    versions: dict[str, tuple[str, str | None]] | None
    #: Whether every distribution the build installs is listed (a lock, a hashed file).
    complete: bool
    #: Why not complete, or why unknown.
    why: str = ""


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with continuations joined and comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            yield line


def _pinned_version(requirement: Requirement) -> str | None:
    specifiers = list(requirement.specifier)
    if requirement.url or len(specifiers) != 1:
        return None
    [specifier] = specifiers
    if specifier.operator in ("==", "===") and "*" not in specifier.version:
        return specifier.version
    return None


def read_requirements(
    text: str, target: LayerTarget, extras: Iterable[str] = ()
) -> tuple[dict[str, tuple[str, str | None]], bool]:
    """The requirements of a requirements file's ``text`` whose markers hold on ``target``,
    and whether the file could be read whole (no ``-r``/``-e`` includes, nothing unparsed)."""
    found: dict[str, tuple[str, str | None]] = {}
    whole = True
    environments = [marker_environment(target, extra) for extra in ("", *extras)]
    for line in _logical_lines(text):
        if line.startswith("-"):
            whole = whole and not line.startswith(_INCLUDES)
            continue
        # Per-requirement options (--hash=...) follow the requirement.
        spec = line.split(" --", 1)[0].strip()
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            whole = False
            continue
        marker = requirement.marker
        if marker is not None and not any(marker.evaluate(env) for env in environments):
            continue
        found[canonicalize_name(requirement.name)] = (
            requirement.name,
            _pinned_version(requirement),
        )
    return found, whole


def _uv_export(manifest: Manifest, options: InstallOptions, index: IndexOptions) -> str | None:
    uv = find_uv()
    if uv is None:
        return None
    with scratch_file("requirements.txt") as path:
        UvInstaller(uv, index=index, options=options).export(manifest, path, frozen=True)
        return path.read_text(encoding="utf-8")


def read_pins(
    manifest: Manifest,
    target: LayerTarget,
    options: InstallOptions | None = None,
    index: IndexOptions | None = None,
    excludes: Iterable[str] = (),
) -> Pins:
    """What ``manifest`` pins for ``target`` (extras and groups of ``options``), leaving out
    the distributions the package step excludes."""
    options = options or InstallOptions()
    index = index or IndexOptions()
    if manifest.tool is Tool.PIP:
        text: str | None = decode_requirements(manifest.content, manifest.path)
        # pip's hash-checking mode refuses a file that does not pin every distribution.
        complete, why = manifest.has_hashes, f"{manifest.filename} pins no hashes"
    elif manifest.tool is Tool.PYLOCK:
        # The PEP 751 selection the pylock installer makes, for the target.
        try:
            text = requirements_for_target(manifest, target, options)[0]
        except LayerBuilderError as exc:
            logger.warning("cannot read the pins of %s: %s", manifest.path, exc)
            text = None
        complete, why = True, f"{manifest.filename} cannot be read for this target"
    elif manifest.tool is Tool.PIPENV:
        try:
            document = read_pipfile_lock(manifest)
            text = requirements_text(manifest, document, options.groups, with_sources=False)
        except LayerBuilderError as exc:
            logger.warning("cannot read the pins of %s: %s", manifest.path, exc)
            text = None
        complete, why = True, f"{manifest.filename} cannot be read"
    elif manifest.tool is Tool.POETRY:
        try:
            text = export_for_target(
                manifest.path, target, options.groups, options.extras, pins_only=True
            )
        except PoetryNeeded as needed:
            logger.info("cannot read the pins of %s without Poetry: %s", manifest.path, needed)
            text = None
        complete, why = True, f"only a Poetry run can read this {manifest.filename}"
    else:
        try:
            text = _uv_export(manifest, options, index)
        except LayerBuilderError as exc:
            logger.warning("cannot read the pins of %s: %s", manifest.path, exc)
            text = None
        complete, why = True, f"uv cannot read {manifest.filename} here"
    if text is None:
        return Pins(None, False, why)
    versions, whole = read_requirements(text, target, options.extras)
    excluded = {canonicalize_name(name) for name in excludes}
    kept = {key: value for key, value in versions.items() if key not in excluded}
    if not whole:
        complete, why = False, f"{manifest.filename} includes other files"
    return Pins(kept, complete, "" if complete else why)
