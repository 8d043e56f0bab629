"""A ``pyproject.toml`` without a lock: resolved by uv into pins, which then act as the lock.

``uv pip compile --universal`` resolves the project's dependencies (with the extras and
groups asked for) once for every platform, with markers where they differ, and with the
hashes of every file. The result is kept under ``build/lambda/layer/`` and becomes the
manifest: its bytes are what the fingerprint hashes and what the S3 backups store
(``000001/resolved-requirements.txt``), so a new release of a dependency is a change,
exactly as a new lock would be. Each run resolves again; the index decides.
"""

from __future__ import annotations

import logging
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from layer_builder.archive.safe_files import write_replacing
from layer_builder.errors import InstallerFailedError, ProjectError
from layer_builder.installers.base import IndexOptions, Installer, InstallOptions
from layer_builder.installers.locked import LockInstaller
from layer_builder.installers.process import run_command
from layer_builder.installers.python_range import admits_python, check_python_range
from layer_builder.installers.selection import uv_selection_error
from layer_builder.installers.tools import require_uv
from layer_builder.installers.uv_lock import read_toml
from layer_builder.installers.uv_pip import scratch_file
from layer_builder.model.layout import LayerPathLayout
from layer_builder.model.manifest import Manifest, Tool
from layer_builder.model.target import RUNTIME_GLIBC, LayerTarget

logger = logging.getLogger(__name__)

#: The resolution's file name, as the S3 backups name it.
RESOLVED_FILENAME = "resolved-requirements.txt"


def _requires_python(pyproject: dict[str, object]) -> str | None:
    project = pyproject.get("project")
    value = project.get("requires-python") if isinstance(project, dict) else None
    return str(value) if value else None


def _floor(requires_python: str | None) -> str:
    """The oldest Lambda runtime the range admits: the resolution's lower bound."""
    try:
        specifiers = (SpecifierSet(requires_python or ""),)
    except InvalidSpecifier:
        specifiers = (SpecifierSet(),)
    admitted = [v for v in RUNTIME_GLIBC if admits_python(specifiers, v)]
    return admitted[0] if admitted else next(iter(RUNTIME_GLIBC))


def resolve_command(
    uv: str, output: Path, options: InstallOptions, requires_python: str | None
) -> list[str]:
    """The ``uv pip compile`` command that writes the universal, hashed resolution."""
    command = [uv, "pip", "compile", "pyproject.toml", "--universal", "--generate-hashes",
               "--no-header", "--no-annotate", "--quiet", "--no-progress", "--python-version",
               _floor(requires_python), "--output-file", str(output)]  # fmt: skip
    for extra in options.extras:
        command += ["--extra", extra]
    for group in options.groups:
        command += ["--group", group]
    return command


def resolve(
    manifest: Manifest,
    options: InstallOptions | None = None,
    index: IndexOptions | None = None,
    uv: str | None = None,
) -> Manifest:
    """The resolution of a lock-less project's ``pyproject.toml`` manifest, as a manifest
    (any other manifest is returned as it is)."""
    if manifest.tool is not Tool.PYPROJECT or manifest.path.name != "pyproject.toml":
        return manifest
    options = options or InstallOptions()
    index = (index or IndexOptions()).merged_over(IndexOptions.from_environment())
    project_dir = manifest.project_dir
    output = LayerPathLayout(project_dir).dir_build / RESOLVED_FILENAME
    output.parent.mkdir(parents=True, exist_ok=True)
    requires_python = _requires_python(read_toml(manifest.content))
    with scratch_file(RESOLVED_FILENAME) as written:
        command = resolve_command(require_uv(uv), written, options, requires_python)
        try:
            run_command(
                command,
                what=f"uv pip compile of {manifest.path} (it has no lock)",
                env={"UV_PYTHON_DOWNLOADS": "never", **index.uv_environment()},
                cwd=project_dir,
                secrets=index.secrets(),
            )
        except InstallerFailedError as exc:
            unknown = uv_selection_error(exc.output, manifest)
            if unknown is not None:
                raise unknown from None
            raise
        content = written.read_bytes()
    write_replacing(output, content)
    logger.info("resolved %s (no lock) into %s", manifest.path, output)
    return Manifest(
        tool=Tool.PYPROJECT,
        path=output,
        content=content,
        local_sources=manifest.local_sources,
        project=project_dir,
    )


def project_manifest(
    project_dir: Path, tool: Tool | str | None = None, installer: Installer | None = None
) -> Manifest:
    """The project's manifest (``Manifest.from_project``); a lock-less pyproject.toml's is
    its resolution, made now with the extras, groups and index of ``installer``."""
    found = Manifest.from_project(project_dir, tool)
    if installer is None:
        return resolve(found)
    return resolve(found, installer.options, installer.index)


class PyprojectInstaller(LockInstaller):
    """Installs a lock-less project: its resolution (made now if the manifest is still the
    pyproject.toml), exactly, with its hashes, through ``uv pip`` or pip."""

    name = "pyproject"

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Resolve (unless done), check the target against ``requires-python``, install."""
        pyproject = manifest.project_dir / "pyproject.toml"
        try:
            requires_python = _requires_python(read_toml(pyproject.read_bytes()))
        except OSError:
            raise ProjectError(
                f"{pyproject} cannot be read: restore it, or lock the project"
            ) from None
        where = "requires-python in pyproject.toml"
        check_python_range(manifest, target, requires_python, where=where)
        resolved = resolve(manifest, self.options, self.index, self.uv)
        index = self.index.merged_over(IndexOptions.from_environment())
        text = resolved.content.decode("utf-8")
        self.install_text(text, resolved, target, dir_target, index=index)
