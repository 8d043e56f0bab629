"""Step 1 of the old API: the local and container builders, each running one ``BuildStep``.

A local builder installs on the host for the Lambda target (its Python, CPU and glibc), not
for the host, so a macOS or arm64 machine builds an x86_64 layer without Docker; a container
builder installs with pip inside the runtime's SAM build image, as the old ones ran Docker.
Either way the tree lands in ``build/lambda/layer/artifacts/python/``.
"""

from __future__ import annotations

import abc
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import attrs

from layer_builder.compat._layouts import (
    Credentials,
    LayerPathLayout,
    index_options,
    make_target,
)
from layer_builder.compat._output import Printer, Reporter
from layer_builder.compat.errors import ManifestNotFoundError
from layer_builder.installers import (
    Installer,
    PipInstaller,
    PoetryInstaller,
    UvInstaller,
    find_poetry,
    find_uv,
)
from layer_builder.installers.container import ContainerInstaller
from layer_builder.model.manifest import Manifest, Tool
from layer_builder.model.target import LayerTarget
from layer_builder.steps.build import BuildResult, BuildStep, default_installer

#: How to make the lock each tool builds from, for the error when it is missing.
_MAKE_MANIFEST = {
    Tool.PIP: "write it (e.g. `uv export --format requirements.txt` or `pip-compile`)",
    Tool.POETRY: "run `poetry lock`",
    Tool.UV: "run `uv lock`",
}


def program(path: Path | str | None, find: Callable[[], str | None]) -> str | None:
    """The program ``path`` names: as given when it is a path, looked up on ``PATH`` when it
    is a bare name (``Path("uv")``), else the one ``find`` finds (uv installed with
    layer_builder); None when not given."""
    if path is None:
        return None
    text = str(path)
    if os.sep in text:
        return text
    return shutil.which(text) or find() or text


def python_beside(path_bin_pip: Path | str) -> str:
    """The interpreter whose pip ``path_bin_pip`` is (``.venv/bin/pip`` -> ``.venv/bin/python``),
    else the running one."""
    found = program(path_bin_pip, lambda: None)
    folder = Path(found).parent if found and os.sep in found else None
    for name in ("python", "python3"):
        if folder is not None and (folder / name).is_file():
            return str(folder / name)
    return sys.executable


@attrs.frozen(kw_only=True)
class _Builder(abc.ABC):
    """What every builder shares: the project, the index, where messages go, and ``run()``."""

    #: ``Tool.PIP``, ``Tool.POETRY`` or ``Tool.UV``: the manifest a builder installs.
    tool: ClassVar[Tool]

    path_pyproject_toml: Path = attrs.field(converter=Path)
    credentials: Credentials | None = None
    verbose: bool = True
    printer: Printer | None = None

    @property
    def path_layout(self) -> LayerPathLayout:
        """The project's local build tree."""
        return LayerPathLayout(self.path_pyproject_toml)

    @property
    @abc.abstractmethod
    def target(self) -> LayerTarget:
        """The Lambda runtime and architecture the tree is built for."""

    @abc.abstractmethod
    def make_installer(self) -> Installer:
        """The installer this builder runs."""

    def manifest(self) -> Manifest:
        """The tool's manifest, read from the project."""
        path = self.path_layout.get_path_manifest(self.tool.value)
        if not path.is_file():
            raise ManifestNotFoundError(
                f"{path} does not exist, and a {self.tool.value}-based build installs from "
                f"it: {_MAKE_MANIFEST[self.tool]} in {path.parent}"
            )
        return Manifest.from_file(path, self.tool)

    def make_build_step(self) -> BuildStep:
        """The :class:`~layer_builder.BuildStep` this builder runs."""
        layout = self.path_layout.native
        return BuildStep(self.target, self.manifest(), layout, self.make_installer())

    def run(self) -> BuildResult:
        """Install the dependencies into ``build/lambda/layer/artifacts/python/``."""
        reporter = Reporter(self.verbose, self.printer)
        step = self.make_build_step()
        reporter.say(
            f"building {step.manifest.path} for {step.target.description} with "
            f"{step.installer.name} into {step.layout.dir_python}"
        )
        result = step.run()
        if result.cached:
            reporter.say(f"reused {result.dir_python}: nothing changed since it was built")
        else:
            names = ", ".join(f"{d.name} {d.version}" for d in result.distributions)
            reporter.say(f"installed {len(result.distributions)} distributions: {names}")
        return result


@attrs.frozen(kw_only=True)
class _LocalBuilder(_Builder):
    """A build on this host, for the Lambda target (not for the host's platform)."""

    #: Accepted and unused: the build never empties ``build/lambda/layer/``, so it never asks.
    skip_prompt: bool = False
    #: The target's Python (default: the running interpreter's, as the host's was used).
    py_ver_major: int | None = None
    py_ver_minor: int | None = None
    #: ``arm64`` when true, else ``x86_64``.
    is_arm: bool | None = None

    @property
    def target(self) -> LayerTarget:
        """``python{py_ver_major}.{py_ver_minor}`` on ``arm64`` or ``x86_64``."""
        return make_target(self.py_ver_major, self.py_ver_minor, self.is_arm)


@attrs.frozen(kw_only=True)
class PipBasedLambdaLayerLocalBuilder(_LocalBuilder):
    """Installs ``requirements.txt`` with the pip of ``path_bin_pip`` (``--platform`` tags of
    the target, wheels only); without it, with ``uv pip`` (else the running Python's pip)."""

    tool = Tool.PIP
    path_bin_pip: Path | None = None

    def make_installer(self) -> Installer:
        """:class:`~layer_builder.PipInstaller` running the interpreter beside ``path_bin_pip``."""
        index = index_options(self.credentials)
        if self.path_bin_pip is None:
            return default_installer(Tool.PIP, index)
        return PipInstaller(python=python_beside(self.path_bin_pip), index=index)


@attrs.frozen(kw_only=True)
class PoetryBasedLambdaLayerLocalBuilder(_LocalBuilder):
    """Installs the main group of ``poetry.lock`` (exported with ``path_bin_poetry``, or read
    directly), exactly as locked."""

    tool = Tool.POETRY
    path_bin_poetry: Path | None = None

    def make_installer(self) -> Installer:
        """:class:`~layer_builder.PoetryInstaller` with the Poetry of ``path_bin_poetry``."""
        poetry = program(self.path_bin_poetry, find_poetry)
        return PoetryInstaller(poetry=poetry, index=index_options(self.credentials))


@attrs.frozen(kw_only=True)
class UVBasedLambdaLayerLocalBuilder(_LocalBuilder):
    """Installs the main dependencies of ``uv.lock`` (no dev group, not the project itself),
    refusing a lock that no longer matches ``pyproject.toml``."""

    tool = Tool.UV
    path_bin_uv: Path | None = None

    def make_installer(self) -> Installer:
        """:class:`~layer_builder.UvInstaller` with the uv of ``path_bin_uv``."""
        uv = program(self.path_bin_uv, find_uv)
        return UvInstaller(uv=uv, index=index_options(self.credentials))


@attrs.frozen(kw_only=True)
class _ContainerBuilder(_Builder):
    """A build inside the runtime's SAM build image (``public.ecr.aws/sam/build-python3.X``)."""

    py_ver_major: int
    py_ver_minor: int
    is_arm: bool
    #: ``docker`` (as before) or ``podman``.
    engine: str = "docker"

    @property
    def target(self) -> LayerTarget:
        """``python{py_ver_major}.{py_ver_minor}`` on ``arm64`` or ``x86_64``."""
        return make_target(self.py_ver_major, self.py_ver_minor, self.is_arm)

    def make_installer(self) -> Installer:
        """:class:`~layer_builder.ContainerInstaller`: the lock exported on the host, then pip
        in the image."""
        return ContainerInstaller(self.engine, index=index_options(self.credentials))


@attrs.frozen(kw_only=True)
class PipBasedLambdaLayerContainerBuilder(_ContainerBuilder):
    """Installs ``requirements.txt`` with pip inside the build image."""

    tool = Tool.PIP


@attrs.frozen(kw_only=True)
class PoetryBasedLambdaLayerContainerBuilder(_ContainerBuilder):
    """Installs the main group of ``poetry.lock`` with pip inside the build image."""

    tool = Tool.POETRY


@attrs.frozen(kw_only=True)
class UVBasedLambdaLayerContainerBuilder(_ContainerBuilder):
    """Installs the main dependencies of ``uv.lock`` with pip inside the build image."""

    tool = Tool.UV
