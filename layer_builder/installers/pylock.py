"""PEP 751 ``pylock.toml`` (written by ``pip lock``, ``uv export --format pylock.toml``,
PDM): what it installs on the target, as hashed requirements, installed with ``uv pip`` or
pip.

Neither installer installs a lock for another platform by itself: pip 26.3 refuses
``--platform``/``--python-version`` with a ``pylock.toml``, and uv 0.13 does it only as a
preview feature that fetches the lock's own URLs, whatever index is given. So the lock is
read here: ``packaging.pylock`` selects the packages and files by the standard's
algorithm, for the target's marker environment and wheel tags (``requires-python``,
``environments``, each package's ``marker``, extras and dependency groups), and each
selected package becomes ``name==version`` with the hashes of every file the lock lists
for it (sha256 or stronger: a file pinned with md5 or sha1 only is refused). The installer
then takes exactly those (``--no-deps``: a lock is the whole set, ``--require-hashes``),
from the index given, else the one pip's environment names (``PIP_INDEX_URL``), else the
lock's ``index``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from packaging.markers import Environment
from packaging.pylock import (
    Package,
    PackageArchive,
    PackageDirectory,
    PackageSdist,
    PackageVcs,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockValidationError,
)
from packaging.utils import canonicalize_name

from layer_builder.errors import ConfigurationError, NoCompatibleWheelError, ProjectError
from layer_builder.installers.base import IndexOptions, InstallOptions
from layer_builder.installers.locked import LockInstaller
from layer_builder.installers.selection import require_dependencies
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget, marker_environment

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

logger = logging.getLogger(__name__)

#: The hash algorithms pip's ``--hash`` takes (uv takes the same and md5): a file the lock
#: pins with none of them (md5 or sha1 only) is refused, never installed unchecked.
HASH_ALGORITHMS = ("sha256", "sha384", "sha512")
_NO_WHEEL = re.compile(r"No wheel found matching the provided tags for package '(?P<name>[^']+)'")
_EXPORT_AGAIN = "export the lock again (e.g. `uv export --format pylock.toml -o pylock.toml`)"

Distribution = PackageVcs | PackageDirectory | PackageArchive | PackageWheel | PackageSdist


def read_pylock(manifest: Manifest) -> Pylock:
    """The lock in ``manifest``, checked against PEP 751."""
    try:
        document = tomllib.loads(manifest.content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{manifest.path} is not valid TOML ({exc}): {_EXPORT_AGAIN}") from None
    try:
        return Pylock.from_dict(document)
    except PylockValidationError as exc:
        raise ProjectError(
            f"{manifest.path} is not a PEP 751 lock file ({exc}): {_EXPORT_AGAIN}"
        ) from None


def target_environment(target: LayerTarget) -> Environment:
    """The marker values of the Lambda runtime, without ``extra`` (a lock file's markers use
    ``extras`` and ``dependency_groups`` instead)."""
    values = {k: v for k, v in marker_environment(target).items() if k != "extra"}
    return cast(Environment, values)


def _check_selection(manifest: Manifest, lock: Pylock, options: InstallOptions) -> None:
    groups = [*(lock.default_groups or ()), *(lock.dependency_groups or ())]
    for kind, flag, asked, declared in (
        ("extra", "--extra", options.extras, list(lock.extras or ())),
        ("group", "--group", options.groups, groups),
    ):
        known = {canonicalize_name(n) for n in declared}
        for name in asked:
            if canonicalize_name(name) not in known:
                listed = ", ".join(sorted(set(declared))) or "none"
                table = "extras" if kind == "extra" else "dependency groups"
                raise ConfigurationError(
                    f"unknown {kind} {name!r} ({flag}): {manifest.path} declares these "
                    f"{table}: {listed}; use one of them, or {_EXPORT_AGAIN} with it"
                )


def _check_python(manifest: Manifest, lock: Pylock, target: LayerTarget) -> None:
    version = f"{target.python_version}.0"
    if lock.requires_python is not None and version not in lock.requires_python:
        raise ProjectError(
            f"{manifest.path} is locked for Python {lock.requires_python} (requires-python), "
            f"which {target.runtime} is not: lock for {target.runtime}, or choose another "
            f"--python"
        )
    environment = cast(dict[str, str], target_environment(target))
    if lock.environments is not None and not any(
        marker.evaluate(environment) for marker in lock.environments
    ):
        listed = "; ".join(str(m) for m in lock.environments)
        raise ProjectError(
            f"{manifest.path} is locked for other environments ({listed}) than "
            f"{target.description}: lock for that target too, or choose another --python "
            f"or --arch"
        )


def _hashes(files: list[Any]) -> list[str]:
    found = []
    for file in files:
        hashes: Mapping[str, str] = file.hashes
        found += [f"{a}:{hashes[a]}" for a in HASH_ALGORITHMS if a in hashes]
    return sorted(set(found))


def _require_strong_hash(manifest: Manifest, package: Package, chosen: Distribution) -> None:
    """Refuse a file the lock pins with weaker hashes only (md5, sha1): the installers check
    only the hashes they are given, so with none of ``HASH_ALGORITHMS`` nothing is checked."""
    hashes: Mapping[str, str] = getattr(chosen, "hashes", None) or {}
    if any(a in hashes for a in HASH_ALGORITHMS):
        return
    version = f" {package.version}" if package.version is not None else ""
    weak = " and ".join(sorted(hashes)) or "no"
    raise ProjectError(
        f"{manifest.path} pins {str(package.name)!r}{version} with {weak} hashes only, too "
        f"weak to check the file installed: lock again with a tool that records sha256 "
        f"(e.g. `uv export --format pylock.toml -o pylock.toml`)"
    )


def _file_url(file: PackageArchive | PackageWheel | PackageSdist, lock_dir: Path) -> str:
    if file.url:
        return file.url
    assert file.path is not None  # PEP 751: a url or a path
    return (lock_dir / file.path).resolve().as_uri()


def requirement_line(
    manifest: Manifest, package: Package, chosen: Distribution, target: LayerTarget
) -> str | None:
    """The hashed requirement that installs ``package`` (None for the project itself)."""
    name = str(package.name)
    lock_dir = manifest.project_dir
    if isinstance(chosen, PackageDirectory):
        if (lock_dir / chosen.path).resolve() == lock_dir.resolve():
            logger.debug("%s: leaving out the project itself (%s)", manifest.path, name)
            return None
        raise ProjectError(
            f"{manifest.path} installs {name!r} from the folder {chosen.path}, which would be "
            f"built on this host, not for {target.description}: publish it as a wheel to an "
            f"index and lock it from there"
        )
    if isinstance(chosen, PackageVcs):
        raise ProjectError(
            f"{manifest.path} installs {name!r} from a {chosen.type} repository, which would "
            f"be built on this host, not for {target.description}: publish it as a wheel to "
            f"an index and lock it from there"
        )
    _require_strong_hash(manifest, package, chosen)
    if isinstance(chosen, PackageArchive):
        head, hashes = f"{name} @ {_file_url(chosen, lock_dir)}", _hashes([chosen])
    elif package.version is None or not (chosen.url or package.index):
        # Not from an index: the very file the lock names for this target.
        head, hashes = f"{name} @ {_file_url(chosen, lock_dir)}", _hashes([chosen])
    else:
        # Every file of that version: the installer picks the one it prefers among them.
        files = [*(package.wheels or ()), *([package.sdist] if package.sdist else [])]
        head, hashes = f"{name}=={package.version}", _hashes(files)
    return " \\\n".join([head, *(f"    --hash={h}" for h in hashes)])


def requirements_for_target(
    manifest: Manifest, target: LayerTarget, options: InstallOptions | None = None
) -> tuple[str, tuple[str, ...]]:
    """The requirements (pinned, hashed, no markers) that install ``manifest``'s lock on
    ``target``, and the indexes the lock names (in order)."""
    options = options or InstallOptions()
    lock = read_pylock(manifest)
    _check_selection(manifest, lock, options)
    _check_python(manifest, lock, target)
    groups = [*(lock.default_groups or ()), *options.groups]
    try:
        selected = list(
            lock.select(
                environment=target_environment(target),
                tags=target.supported_tags,
                extras=options.extras,
                dependency_groups=groups,
            )
        )
    except PylockSelectError as exc:
        missing = _NO_WHEEL.search(str(exc))
        if missing:
            detail = f"{manifest.filename} lists no wheel of it for this target"
            raise NoCompatibleWheelError(missing["name"], target.description, detail) from None
        raise ProjectError(
            f"{manifest.path} cannot be installed on {target.description} ({exc}): {_EXPORT_AGAIN}"
        ) from None
    lines = []
    indexes: list[str] = []
    for package, chosen in selected:
        line = requirement_line(manifest, package, chosen, target)
        if line is not None:
            lines.append(line)
            if package.index and package.index not in indexes:
                indexes.append(package.index)
    return "".join(f"{line}\n" for line in lines), tuple(indexes)


def index_lines(indexes: tuple[str, ...]) -> str:
    """``--index-url`` (then ``--extra-index-url``) lines naming ``indexes``."""
    flags = ["--index-url", *["--extra-index-url"] * (len(indexes) - 1)]
    return "".join(f"{flag} {url}\n" for flag, url in zip(flags, indexes, strict=False))


class PylockInstaller(LockInstaller):
    """Installs what a ``pylock.toml`` selects for the target, with its hashes, through
    ``uv pip`` (when uv is available and ``use_uv``) or pip."""

    name = "pylock"

    def index_for(self, lock_indexes: tuple[str, ...]) -> IndexOptions:
        """The index given, else the one pip's environment names (as for a requirements
        file), else the lock's own."""
        index = self.index.merged_over(IndexOptions.from_environment())
        if index.is_set or not lock_indexes:
            return index
        return IndexOptions(index_url=lock_indexes[0], extra_index_urls=lock_indexes[1:])

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Select the lock's packages for ``target``, then install them with hashes."""
        text, lock_indexes = requirements_for_target(manifest, target, self.options)
        require_dependencies(text, manifest, self.options)
        self.install_text(text, manifest, target, dir_target, index=self.index_for(lock_indexes))
