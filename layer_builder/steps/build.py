"""Step 1: install the locked dependencies into ``artifacts/python/`` for the layer target."""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs

from layer_builder.distributions import InstalledDistribution, find_distributions
from layer_builder.errors import BuildError
from layer_builder.installers import Installer, PipInstaller
from layer_builder.layout import LayerPathLayout
from layer_builder.manifest import Manifest, Tool
from layer_builder.steps.base import Step
from layer_builder.target import LayerTarget


@attrs.frozen
class BuildResult:
    """The installed tree and what it was built from."""

    dir_python: Path
    manifest: Manifest
    target: LayerTarget
    distributions: tuple[InstalledDistribution, ...]
    installer: str


def default_installer(tool: Tool) -> Installer:
    """The installer used for a manifest of ``tool`` when none is given."""
    if tool is Tool.PIP:
        return PipInstaller()
    raise BuildError(
        f"building from {tool.manifest_filename} is not supported yet: export it to "
        f"requirements.txt (e.g. `uv export --no-dev --format requirements-txt`) and use --tool pip"
    )


class BuildStep(Step):
    """Installs into a fresh staging folder, then swaps it in as ``dir_python``.

    Building into a fresh folder matters: pip leaves stale packages in an existing
    ``--target``, and a failed install must not leave a half-filled tree behind.
    """

    name = "build"

    def __init__(
        self,
        target: LayerTarget,
        manifest: Manifest,
        layout: LayerPathLayout,
        installer: Installer | None = None,
    ):
        self.target = target
        self.manifest = manifest
        self.layout = layout
        self.installer = installer or default_installer(manifest.tool)

    def run(self) -> BuildResult:
        dir_python = self.layout.dir_python
        staging = dir_python.with_name(dir_python.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            with self.timed(f"installing {self.manifest.filename} for {self.target.description}"):
                self.installer.install(self.manifest, self.target, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(dir_python, ignore_errors=True)
        staging.rename(dir_python)
        distributions = find_distributions(dir_python)
        self.logger.info("installed %d distributions into %s", len(distributions), dir_python)
        return BuildResult(
            dir_python=dir_python,
            manifest=self.manifest,
            target=self.target,
            distributions=distributions,
            installer=self.installer.name,
        )
