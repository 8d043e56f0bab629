"""Pipenv: a ``Pipfile.lock`` installed as locked, for the target, without Pipenv.

The lock is JSON: ``default`` holds the packages of the application, ``develop`` those of
its development (installed only when asked: ``--group develop``, or ``dev``), newer Pipenvs
add categories of their own (``--group NAME``). Each entry pins a version with its hashes
and markers (or names a path, a file or a VCS repository), and ``_meta.sources`` lists the
indexes. All of it converts to a requirements file, which then goes the way of every
requirements file: selected for the target (markers), local folders built as wheels, the
installer given exactly those pins (``--no-deps``: a lock is the whole set) with their
hashes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from layer_builder.errors import ConfigurationError, ProjectError
from layer_builder.installers.base import IndexOptions
from layer_builder.installers.locked import LockInstaller
from layer_builder.installers.selection import require_dependencies
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)

#: What ``--group`` names for Pipenv's own category of development packages.
_DEVELOP_ALIASES = {"dev": "develop", "dev-packages": "develop"}


def read_pipfile_lock(manifest: Manifest) -> dict[str, Any]:
    """The lock's JSON document, or a one-line error saying how to write it again."""
    try:
        document = json.loads(manifest.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProjectError(
            f"{manifest.path} is not valid JSON ({exc}): write it again with `pipenv lock`"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("default", {}), dict):
        raise ProjectError(
            f"{manifest.path} is not a Pipfile.lock (no 'default' table): write it again with "
            f"`pipenv lock`"
        )
    return document


def categories(document: Mapping[str, Any]) -> list[str]:
    """The package categories the lock holds (``default``, ``develop``, custom ones)."""
    return sorted(k for k, v in document.items() if k != "_meta" and isinstance(v, dict))


def _requirement_line(name: str, entry: Mapping[str, Any]) -> str:
    """One entry as a requirements-file line (markers kept: they are evaluated later)."""
    extras = f"[{','.join(entry['extras'])}]" if entry.get("extras") else ""
    marker = f" ; {entry['markers']}" if entry.get("markers") else ""
    if "path" in entry:
        head = f"{'-e ' if entry.get('editable') else ''}{entry['path']}{marker}"
    elif "file" in entry:
        head = f"{name}{extras} @ {entry['file']}{marker}"
    elif "git" in entry:
        ref = f"@{entry['ref']}" if entry.get("ref") else ""
        head = f"{name}{extras} @ git+{entry['git']}{ref}{marker}"
    else:
        version = entry.get("version", "")
        if version == "*":
            version = ""
        head = f"{name}{extras}{version}{marker}"
    hashes = [f"    --hash={h}" for h in entry.get("hashes", [])]
    return " \\\n".join([head, *hashes])


def requirements_text(
    manifest: Manifest,
    document: Mapping[str, Any],
    groups: tuple[str, ...] = (),
    with_sources: bool = True,
) -> str:
    """The ``default`` packages (and those of ``groups``) as a requirements file, after
    index lines naming the lock's sources (``with_sources``)."""
    wanted = ["default", *(_DEVELOP_ALIASES.get(g, g) for g in groups)]
    known = categories(document)
    for group in wanted:
        if group not in known:
            raise ConfigurationError(
                f"unknown group {group!r} (--group): {manifest.path} holds these package "
                f"categories: {', '.join(known)}; use one of them, or `pipenv lock` with it"
            )
    sources = [s for s in document.get("_meta", {}).get("sources", []) if s.get("url")]
    sources = sources if with_sources else []
    flags = ["--index-url", *["--extra-index-url"] * (len(sources) - 1)]
    lines = [f"{flag} {source['url']}" for flag, source in zip(flags, sources, strict=False)]
    seen = set()
    for group in dict.fromkeys(wanted):
        for name, entry in sorted(document[group].items()):
            if name not in seen and isinstance(entry, dict):
                seen.add(name)
                lines.append(_requirement_line(name, entry))
    return "".join(f"{line}\n" for line in lines)


def python_note(manifest: Manifest, document: Mapping[str, Any], target: LayerTarget) -> None:
    """A Pipfile names the Python it was locked with, not a range: say when the target is
    another one (the lock's markers still decide what installs)."""
    requires = document.get("_meta", {}).get("requires", {})
    version = str(requires.get("python_full_version") or requires.get("python_version") or "")
    locked = ".".join(version.split(".")[:2])
    if locked.count(".") == 1 and locked != target.python_version:
        logger.warning("%s was locked with Python %s; building for %s", manifest.path,
                       version, target.runtime)  # fmt: skip


class PipenvInstaller(LockInstaller):
    """Installs what a ``Pipfile.lock`` pins for the target (``default``, plus the categories
    asked as groups), with its hashes, through ``uv pip`` or pip."""

    name = "pipenv"

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Convert the lock to requirements, then install them for ``target``."""
        if self.options.extras:
            raise ConfigurationError(
                f"{manifest.path} has no extras (Pipenv locks them into the packages): drop "
                f"--extra {' --extra '.join(self.options.extras)}"
            )
        document = read_pipfile_lock(manifest)
        python_note(manifest, document, target)
        # The index given (or pip's environment's) wins over the lock's sources, as for a
        # requirements file.
        given = self.index.merged_over(IndexOptions.from_environment()).is_set
        text = requirements_text(manifest, document, self.options.groups, not given)
        require_dependencies(text, manifest, self.options)
        index = self.index.merged_over(IndexOptions.from_environment())
        self.install_text(text, manifest, target, dir_target, index=index)
