"""Poetry: export a ``poetry.lock`` to hashed requirements, then install them for the target.

``poetry export`` (the poetry-plugin-export plugin) reads only the lock, so no network is
needed to export; the install itself uses ``uv pip`` when uv is available, else pip.
"""

from __future__ import annotations

import logging
from pathlib import Path

from layer_builder.errors import InstallerFailedError, StaleLockError, ToolMissingError
from layer_builder.installers.base import IndexOptions, InstallOptions
from layer_builder.installers.locked import LockInstaller
from layer_builder.installers.poetry_graph import PoetryNeeded
from layer_builder.installers.poetry_lock import check_poetry_python, export_for_target
from layer_builder.installers.process import run_command
from layer_builder.installers.selection import check_poetry_selection, require_dependencies
from layer_builder.installers.tools import find_poetry
from layer_builder.installers.uv_pip import scratch_file
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)

_INSTALL_POETRY = "run `python -m pip install poetry poetry-plugin-export`"


class PoetryInstaller(LockInstaller):
    """Installs exactly the locked main group of a ``poetry.lock`` project (with hashes).

    More groups and extras come from ``InstallOptions``. A lock that no longer matches
    pyproject.toml is an error naming the fix.
    """

    name = "poetry"

    def __init__(
        self,
        poetry: str | None = None,
        index: IndexOptions | None = None,
        options: InstallOptions | None = None,
        uv: str | None = None,
        use_uv: bool = True,
        read_lock_directly: bool = True,
    ):
        super().__init__(uv=uv, index=index, options=options, use_uv=use_uv)
        self.poetry = poetry
        self.read_lock_directly = read_lock_directly

    def export_command(self, requirements: Path, poetry: str | None = None) -> list[str]:
        """The ``poetry export`` command writing hashed requirements to ``requirements``."""
        poetry = poetry or self.poetry or find_poetry()
        if not poetry:
            raise ToolMissingError(
                f"poetry is not installed, so poetry.lock cannot be read: {_INSTALL_POETRY}"
            )
        command = [poetry, "export", "--format", "requirements.txt"]
        command += ["--output", str(requirements), "--no-interaction", "--no-ansi"]
        for group in self.options.groups:
            command += ["--with", group]
        for extra in self.options.extras:
            command += ["--extras", extra]
        if self.index.is_set:
            # The given index replaces the lock's sources (which then cannot disagree).
            command.append("--without-urls")
        return command

    def export(
        self, manifest: Manifest, requirements: Path, target: LayerTarget | None = None
    ) -> None:
        """Write the locked dependencies of ``manifest``'s project to ``requirements``.

        With a ``target``, the lock is read directly when that can be done exactly (see
        :mod:`layer_builder.installers.poetry_lock`), which needs no Poetry; else Poetry
        exports it, and without Poetry the error says why it was needed.
        """
        needed = "the lock is read for no particular target"
        if target is not None and self.read_lock_directly:
            try:
                text = export_for_target(
                    manifest.path, target, self.options.groups, self.options.extras
                )
            except PoetryNeeded as why:
                needed = str(why)
                logger.info("%s needs Poetry to export: %s", manifest.path, needed)
            else:
                requirements.write_text(text, encoding="utf-8")
                return
        poetry = self.poetry or find_poetry()
        if not poetry:
            raise ToolMissingError(
                f"{manifest.path} can only be exported by Poetry ({needed}), and poetry is "
                f"not installed: {_INSTALL_POETRY}"
            )
        try:
            run_command(
                self.export_command(requirements, poetry),
                what=f"poetry export of {manifest.path}",
                env={"POETRY_VIRTUALENVS_CREATE": "false", "POETRY_NO_INTERACTION": "1"},
                cwd=manifest.project_dir,
                secrets=self.index.secrets(),
            )
        except InstallerFailedError as exc:
            if "command export does not exist" in exc.output:
                raise ToolMissingError(
                    "poetry has no `export` command (poetry-plugin-export is missing): run "
                    "`poetry self add poetry-plugin-export` or "
                    "`python -m pip install poetry-plugin-export`"
                ) from None
            if "changed significantly since poetry.lock" in exc.output:
                raise StaleLockError(
                    f"{manifest.path} is out of date with "
                    f"{manifest.project_dir / 'pyproject.toml'}: run `poetry lock` in "
                    f"{manifest.project_dir} and commit the new lock"
                ) from None
            raise

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Export the lock for ``target``, then install it with uv or pip."""
        check_poetry_selection(manifest, self.options)
        check_poetry_python(manifest, target)
        with scratch_file("requirements.txt") as requirements:
            self.export(manifest, requirements, target)
            text = requirements.read_text(encoding="utf-8")
        require_dependencies(text, manifest, self.options)
        # With dependencies resolved (as ever for Poetry): a dependency the export left out
        # is an error of the installer's, not a silently missing package.
        self.install_text(text, manifest, target, dir_target, no_deps=False)
