"""Step 1: install the locked dependencies into ``artifacts/python/`` for the layer target."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from layer_builder.archive.safe_files import (
    make_partial_dir,
    partial_name,
    remove_entry,
    remove_partials,
)
from layer_builder.choices import check_choice
from layer_builder.errors import ConfigurationError, MismatchedBuildError, ProjectError
from layer_builder.installers import (
    IndexOptions,
    Installer,
    InstallOptions,
    PipenvInstaller,
    PipInstaller,
    PoetryInstaller,
    PylockInstaller,
    PyprojectInstaller,
    UvInstaller,
    UvPipInstaller,
    find_uv,
)
from layer_builder.installers.container import ContainerInstaller
from layer_builder.installers.wheel_check import check_wheel_tags, incompatible_wheels
from layer_builder.model.distributions import InstalledDistribution, find_distributions
from layer_builder.model.fingerprint import compute_fingerprint
from layer_builder.model.layout import LayerPathLayout
from layer_builder.model.manifest import Manifest, Tool, parse_tool
from layer_builder.model.target import LayerTarget
from layer_builder.steps.base import Step
from layer_builder.steps.build_record import (
    read_record,
    tree_fields,
    tree_is_recorded,
    write_record,
)
from layer_builder.steps.console_scripts import drop_console_scripts, prune_records
from layer_builder.steps.folder_lock import FolderLock

BUILD_RECORD_FORMAT = 1


@attrs.frozen(kw_only=True)
class BuildResult:
    """The installed tree and what it was built from."""

    dir_python: Path
    manifest: Manifest
    target: LayerTarget
    distributions: tuple[InstalledDistribution, ...]
    installer: str
    #: True when the tree was reused because nothing that decides it changed.
    cached: bool = False
    #: The extras and groups installed beyond the main dependencies (part of the fingerprint).
    install_options: InstallOptions = attrs.field(factory=InstallOptions)
    #: The tree is pure Python and the same for several targets (``UniversalBuildStep``):
    #: its layer is universal, whatever ``target`` (one of them) says.
    universal: bool = False

    def layer_fingerprint(self, package_fields: Mapping[str, object]) -> str:
        """The fingerprint of a layer made from this tree by a package step whose
        ``fingerprint_fields()`` are ``package_fields`` (what a package step stamps)."""
        target = None if self.universal else self.target
        return compute_fingerprint(
            self.manifest, target, package_fields, self.install_options.fingerprint_fields()
        )


def _tool_or_none(value: Tool | str | None) -> Tool | None:
    return None if value is None else parse_tool(value)


@attrs.frozen(kw_only=True)
class BuildOptions:
    """How the tree is installed: the manifest's tool, the installer, the build cache."""

    #: ``uv``, ``poetry``, ``pip`` or ``pylock`` (None: detected from the project's files).
    tool: Tool | None = attrs.field(default=None, converter=_tool_or_none)
    #: The installer to use (None: the default for the manifest, see ``default_installer``).
    installer: Installer | None = None
    #: Reuse the tree of an identical earlier build (False: always install).
    use_cache: bool = True


#: Programs that can install a requirements file: uv's pip interface (the default when uv
#: is found; a dependency of lambda-layer-builder), or pip itself.
INSTALLERS = ("uv", "pip")


def _check_installer(installer: str | None) -> None:
    if installer is not None:
        check_choice(installer, INSTALLERS, "installer")


def default_installer(
    tool: Tool,
    index: IndexOptions | None = None,
    options: InstallOptions | None = None,
    installer: str | None = None,
) -> Installer:
    """The installer used for a manifest of ``tool`` when none is given.

    A ``requirements.txt`` (and the requirements a ``poetry.lock`` exports to) goes to ``uv
    pip`` when uv is available (same result as pip, much faster), else to pip; uv then also
    sees the index pip's environment names. ``installer`` (``"uv"`` or ``"pip"``) forces
    one; a ``uv.lock`` is exported and installed by uv whatever it says, so ``"pip"`` is
    refused for it.
    """
    _check_installer(installer)
    if tool is Tool.UV:
        if installer == "pip":
            raise ConfigurationError(
                "a uv.lock is exported and installed by uv, not pip: remove --installer pip "
                '(or installer = "pip" in [tool.layer_builder]), or build from a '
                "requirements.txt with --tool pip"
            )
        return UvInstaller(index=index, options=options)
    if tool is Tool.POETRY:
        return PoetryInstaller(index=index, options=options, use_uv=installer != "pip")
    if tool is Tool.PYLOCK:
        return PylockInstaller(index=index, options=options, use_uv=installer != "pip")
    if tool is Tool.PIPENV:
        return PipenvInstaller(index=index, options=options, use_uv=installer != "pip")
    if tool is Tool.PYPROJECT:
        return PyprojectInstaller(index=index, options=options, use_uv=installer != "pip")
    uv = find_uv() if installer != "pip" else None
    if uv or installer == "uv":
        return UvPipInstaller(uv, index=index, options=options)  # no uv: the fix, at install
    return PipInstaller(index=index, options=options)


def make_installer(
    tool: Tool,
    *,
    index: IndexOptions | None = None,
    options: InstallOptions | None = None,
    container: str | None = None,
    installer: str | None = None,
) -> Installer:
    """The installer for ``tool`` (``installer``: ``"uv"`` or ``"pip"``, see
    ``default_installer``), or the container build (``"docker"``/``"podman"``), which
    installs with the build image's pip."""
    if container:
        _check_installer(installer)
        if installer == "uv":
            raise ConfigurationError(
                f"the installer uv does not run inside the {container} build image (its pip "
                f"installs the layer): drop --installer uv or --container {container}"
            )
        return ContainerInstaller(container, index=index, options=options)
    return default_installer(tool, index, options, installer)


def read_build_record(layout: LayerPathLayout) -> dict[str, Any]:
    """What the last successful build recorded beside its tree (empty when nothing did)."""
    return read_record(layout.path_build_record)


def build_fingerprint(manifest: Manifest, target: LayerTarget, installer: Installer) -> str:
    """What decides the installed tree: the manifest (and pyproject.toml of a lock, whose
    staleness the installer checks), the target and the installer with its options."""
    pyproject = manifest.project_dir / "pyproject.toml"
    document = {
        "format": BUILD_RECORD_FORMAT,
        "tool": manifest.tool.value,
        "manifest_sha256": manifest.sha256,
        "pyproject_sha256": (
            hashlib.sha256(pyproject.read_bytes()).hexdigest()
            if manifest.tool not in (Tool.PIP, Tool.PYLOCK, Tool.PIPENV) and pyproject.is_file()
            else None
        ),
        "runtime": target.runtime,
        "architecture": target.architecture,
        "installer": installer.fingerprint_fields(),
    }
    if manifest.local_sources:
        document["local_sources"] = dict(manifest.local_sources)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class BuildStep(Step[None, BuildResult]):
    """Installs into a fresh staging folder, then swaps it in as ``dir_python``.

    Building into a fresh folder matters: pip leaves stale packages in an existing
    ``--target``, and a failed or interrupted install must not leave a half-filled tree
    behind. When the build fingerprint equals the one recorded beside ``dir_python`` by the
    last successful build, the install is skipped (``use_cache=False`` forces it). The whole
    run holds the project's folder lock (``LayerPathLayout.path_lock``).
    """

    name = "build"

    def __init__(
        self,
        target: LayerTarget,
        manifest: Manifest,
        layout: LayerPathLayout,
        installer: Installer | None = None,
        *,
        use_cache: bool = True,
        check_wheels: bool = True,
    ):
        self.target = target
        self.manifest = manifest
        self.layout = layout
        self.installer = installer or default_installer(manifest.tool)
        self.use_cache = use_cache
        self.check_wheels = check_wheels

    def fingerprint_fields(self) -> Mapping[str, object]:
        """The extras, groups and source builds asked of the installer."""
        return self.installer.options.fingerprint_fields()

    def _cached_tree_is_current(self, fingerprint: str) -> bool:
        """Whether the last build's record says the tree is this build, untouched since
        (its files, not only their times: see ``build_record``)."""
        record = read_build_record(self.layout)
        if record.get("fingerprint") != fingerprint:
            return False
        if not tree_is_recorded(self.layout.dir_python, self.layout.path_build_record, record):
            self.logger.info("%s changed since it was built: installing again",
                             self.layout.dir_python)  # fmt: skip
            return False
        return True

    def _result(
        self, distributions: tuple[InstalledDistribution, ...], cached: bool
    ) -> BuildResult:
        return BuildResult(
            dir_python=self.layout.dir_python,
            manifest=self.manifest,
            target=self.target,
            distributions=distributions,
            installer=self.installer.name,
            cached=cached,
            install_options=self.installer.options,
        )

    def last_result(self) -> BuildResult:
        """The tree an earlier run of this step left, checked to be this step's build (to
        package it in a later command): refused when missing, when it holds wheels the
        target cannot load, or when its record names another manifest, target or options.
        A tree changed since its build is refused by the package step, which zips it."""
        dir_python = self.layout.dir_python
        if not dir_python.is_dir():
            raise ProjectError(f"{dir_python} does not exist: run `layer-builder build` first")
        foreign = incompatible_wheels(dir_python, self.target, built_natively=True)
        if foreign:
            raise MismatchedBuildError(
                f"{dir_python} holds wheels that {self.target.description} cannot load "
                f"({', '.join(w.name for w in foreign)}): pass the --python and --arch given "
                f"to `layer-builder build`, or build again"
            )
        record = read_build_record(self.layout)
        expected = build_fingerprint(self.manifest, self.target, self.installer)
        if record and record.get("fingerprint") != expected:
            raise MismatchedBuildError(
                f"{dir_python} was built from another {self.manifest.filename} or with other "
                f"options (--python, --arch, --tool, extras, groups, container) than this "
                f"command's: pass the options given to `layer-builder build`, or build again"
            )
        return BuildResult(
            dir_python=dir_python,
            manifest=self.manifest,
            target=self.target,
            distributions=find_distributions(dir_python),
            installer=str(record.get("installer", "(existing tree)")),
            cached=True,
            install_options=self.installer.options,
        )

    def _drop_console_scripts(self, staging: Path) -> None:
        """Console scripts are of no use in a layer, and each one names the build host's
        interpreter: they go, and so do the ``RECORD`` lines of what the tree does not hold,
        so that the zip is the same from any host (``console_scripts``)."""
        names = drop_console_scripts(staging)
        if names:
            self.logger.info("left out console scripts (no use in a layer): %s", ", ".join(names))
        prune_records(staging)

    def run(self, previous: None = None) -> BuildResult:
        """Install (or reuse the tree of an identical earlier build); ``previous`` is unused:
        the build starts from the manifest the step was given."""
        # Held from the cache check to the record: another run in this folder must neither
        # swap the tree under this one nor see it half-swapped.
        with FolderLock(self.layout.path_lock, "build"):
            removed = remove_partials(self.layout.dir_python)
            if removed:
                self.logger.info("removed what an interrupted build left: %s",
                                 ", ".join(p.name for p in removed))  # fmt: skip
            try:
                return self._run()
            finally:
                remove_partials(self.layout.dir_python)  # whatever an interruption left

    def _run(self) -> BuildResult:
        dir_python = self.layout.dir_python
        fingerprint = build_fingerprint(self.manifest, self.target, self.installer)
        if self.use_cache and dir_python.is_dir() and self._cached_tree_is_current(fingerprint):
            self.logger.info("dependencies unchanged since the last build: reusing %s", dir_python)
            return self._result(find_distributions(dir_python), cached=True)
        # A staging folder of this run's own (unique name, created exclusively), swapped in
        # only once the install succeeded.
        staging = make_partial_dir(dir_python)
        try:
            staging.chmod(0o755)  # mkdtemp makes it owner-only; it becomes artifacts/python
            with self.timed(f"installing {self.manifest.filename} for {self.target.description}"):
                self.installer.install(self.manifest, self.target, staging)
            if self.check_wheels:
                check_wheel_tags(staging, self.target, self.installer.builds_natively)
            self._drop_console_scripts(staging)
            self.layout.path_build_record.unlink(missing_ok=True)
            self._swap_in(staging, dir_python)
        except BaseException:
            remove_entry(staging)
            raise
        distributions = find_distributions(dir_python)
        record = {
            "fingerprint": fingerprint,
            "installer": self.installer.name,
            "runtime": self.target.runtime,
            "architecture": self.target.architecture,
            **tree_fields(dir_python),
            "distributions": {d.name: d.version for d in distributions},
        }
        write_record(self.layout.path_build_record, record)
        self.logger.info("installed %d distributions into %s", len(distributions), dir_python)
        return self._result(distributions, cached=False)

    @staticmethod
    def _swap_in(staging: Path, dir_python: Path) -> None:
        """Put ``staging`` at ``dir_python``: the old tree is first renamed away (a link at
        ``dir_python`` is moved, never followed), then deleted."""
        old = dir_python.with_name(partial_name(dir_python))
        with contextlib.suppress(FileNotFoundError):
            os.rename(dir_python, old)
        try:
            os.replace(staging, dir_python)
        finally:
            remove_entry(old)
