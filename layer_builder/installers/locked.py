"""What every lock installer shares: the lock turned into requirements, installed exactly by
``uv pip`` (when uv is found and wanted) or pip."""

from __future__ import annotations

from pathlib import Path

from layer_builder.installers.base import IndexOptions, Installer, InstallOptions
from layer_builder.installers.pip import PipInstaller
from layer_builder.installers.tools import find_uv
from layer_builder.installers.uv_pip import UvPipInstaller, scratch_file
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget


def install_locked_requirements(
    requirements: Path,
    target: LayerTarget,
    dir_target: Path,
    *,
    cwd: Path,
    index: IndexOptions,
    options: InstallOptions,
    uv: str | None,
    use_uv: bool,
    no_deps: bool = False,
    manifest: Manifest | None = None,
) -> None:
    """Install the requirements a lock (``manifest``) was exported to: with ``uv pip`` when
    ``use_uv`` and uv is found (``uv``, else on PATH), else with pip. The lock's extras and
    groups are already applied; of ``options`` only ``allow_source`` still applies (pip
    refuses it)."""
    found = (uv or find_uv()) if use_uv else None
    if found:
        UvPipInstaller(found, index, options).install_requirements(
            requirements, target, dir_target, cwd=cwd, no_deps=no_deps, manifest=manifest
        )
        return
    source_only = InstallOptions(allow_source=options.allow_source)
    pip = PipInstaller(index=index, no_deps=no_deps, options=source_only)
    pip.refuse_source_builds()
    pip.install_requirements(requirements, target, dir_target, cwd=cwd, manifest=manifest)


class LockInstaller(Installer):
    """An installer that reads a lock into requirements and installs exactly those, through
    ``uv pip`` (when uv is available and ``use_uv``) or pip. Subclasses read their lock."""

    def __init__(
        self,
        uv: str | None = None,
        index: IndexOptions | None = None,
        options: InstallOptions | None = None,
        use_uv: bool = True,
    ):
        self.uv = uv
        self.index = index or IndexOptions()
        self.options = options or InstallOptions()
        self.use_uv = use_uv

    def fingerprint_fields(self) -> dict[str, object]:
        """The installer, and the extras and groups asked for."""
        fields: dict[str, object] = {"installer": self.name, **self.options.fingerprint_fields()}
        if not self.use_uv:  # only then, so that existing build records stay valid
            fields["installs_with"] = "pip"
        return fields

    def install_text(
        self,
        text: str,
        manifest: Manifest,
        target: LayerTarget,
        dir_target: Path,
        *,
        index: IndexOptions | None = None,
        no_deps: bool = True,
    ) -> None:
        """Install the requirements ``text`` read from ``manifest`` (``no_deps``: a lock is
        the whole set) from ``index`` (default: the installer's)."""
        with scratch_file("requirements.txt") as requirements:
            requirements.write_text(text, encoding="utf-8")
            install_locked_requirements(
                requirements, target, dir_target, cwd=manifest.project_dir,
                index=index or self.index, options=self.options, uv=self.uv,
                use_uv=self.use_uv, no_deps=no_deps, manifest=manifest,
            )  # fmt: skip
