"""pip: install a requirements file for the target's platform with ``--target``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from packaging.version import Version

from layer_builder.errors import (
    BuildError,
    ConfigurationError,
    InstallerFailedError,
    NoCompatibleWheelError,
    ToolMissingError,
)
from layer_builder.installers.base import IndexOptions, Installer, InstallOptions
from layer_builder.installers.diagnosis import diagnose, diagnosis_indexes, problems_error
from layer_builder.installers.index_errors import pip_failure
from layer_builder.installers.process import run_command
from layer_builder.installers.selection import (
    refuse_selection_for_requirements,
    require_dependencies,
)
from layer_builder.installers.target_requirements import PreparedRequirements, prepared
from layer_builder.model.manifest import Manifest, Tool
from layer_builder.model.target import LayerTarget

# pip before 24 checks Requires-Python against the host when --target and --python-version
# are combined (measured: pip 23.2 refuses numpy 2.5 for a 3.12 target on a 3.11 host).
MINIMUM_PIP = Version("24.0")

_NO_MATCH = re.compile(r"No matching distribution found for (?P<requirement>\S+)")


class PipInstaller(Installer):
    """Runs ``python -m pip install --target`` with the runtime's platform tags.

    Only wheels are accepted (``--only-binary=:all:``), so nothing is compiled for the host,
    and no bytecode is written (the host's ``.pyc`` are useless on another Python).
    """

    name = "pip"

    def __init__(
        self,
        python: str = sys.executable,
        index: IndexOptions | None = None,
        no_deps: bool = False,
        options: InstallOptions | None = None,
    ):
        self.python = python
        self.index = index or IndexOptions()
        #: Install exactly the requirements (a complete lock), not their dependencies too.
        self.no_deps = no_deps
        #: Refused when they ask for anything: a requirements file has no extras or groups,
        #: and pip builds nothing from source for another platform.
        self.options = options or InstallOptions()

    def fingerprint_fields(self) -> dict[str, object]:
        """The installer's name: pip decides the tree (its INSTALLER and RECORD files)."""
        # Not the index: locks and hashed requirements pin the files, and a CodeArtifact
        # URL carries a token that changes every build.
        return {"installer": self.name}

    def command(
        self,
        manifest: Manifest,
        target: LayerTarget,
        dir_target: Path,
        prepared: PreparedRequirements | None = None,
    ) -> list[str]:
        """The exact command line (installing ``prepared``, the manifest selected for the
        target, when given); credentials are never part of it."""
        requirements = prepared.path if prepared is not None else manifest.path
        command = [self.python, "-m", "pip", "install", "-r", str(requirements)]
        command += ["--target", str(dir_target)]
        for tag in target.platform_tags:
            command += ["--platform", tag]
        command += [
            "--implementation", "cp",
            "--python-version", target.python_version,
            "--only-binary=:all:",
            "--no-compile",
            "--no-input",
            "--disable-pip-version-check",
            "--progress-bar", "off",
        ]  # fmt: skip
        if prepared is not None:
            file = prepared.selection.source
            command += ["--pre"] if file.pre else []
            for host in file.trusted_hosts:
                command += ["--trusted-host", host]
        hashed = prepared.selection.has_hashes if prepared is not None else manifest.has_hashes
        if hashed:
            command.append("--require-hashes")
        if self.no_deps:
            command.append("--no-deps")
        return command

    def refuse_source_builds(self) -> None:
        """pip refuses ``--platform`` without ``--only-binary=:all:`` (or ``--no-deps``)."""
        if self.options.allow_source:
            raise ConfigurationError(
                f"--allow-source {' '.join(self.options.allow_source)} needs uv: pip builds "
                f"nothing from source for another platform; drop --installer pip (uv is the "
                f"default), or drop --allow-source"
            )

    def check_version(self) -> Version:
        """Fail early, with the fix, when the interpreter's pip is missing or too old."""
        try:
            output = subprocess.run(
                [self.python, "-m", "pip", "--version"],
                capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
            ).stdout  # fmt: skip
        except (OSError, subprocess.CalledProcessError):
            raise ToolMissingError(
                f"pip is not available for {self.python}: run `{self.python} -m ensurepip` "
                f"or choose another interpreter"
            ) from None
        version = Version(output.split()[1])
        if version < MINIMUM_PIP:
            raise ToolMissingError(
                f"pip {version} of {self.python} is too old to install for another Python "
                f"version: run `{self.python} -m pip install -U 'pip>={MINIMUM_PIP}'`"
            )
        return version

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Run pip for ``target``'s platform tags into the empty ``dir_target``."""
        refuse_selection_for_requirements(manifest, self.options)
        self.refuse_source_builds()
        require_dependencies(manifest.content.decode("utf-8", "replace"), manifest)
        self.install_requirements(
            manifest.path, target, dir_target, cwd=manifest.project_dir, manifest=manifest
        )

    def install_requirements(
        self,
        requirements: Path,
        target: LayerTarget,
        dir_target: Path,
        *,
        cwd: Path,
        manifest: Manifest | None = None,
    ) -> None:
        """Install a requirements file, selected for ``target`` first, into ``dir_target``
        (``cwd``: where relative paths start; ``manifest``: where it came from)."""
        self.check_version()
        source = manifest or Manifest(Tool.PIP, requirements, requirements.read_bytes())
        with prepared(requirements, target, project_dir=cwd, what=str(source.path)) as flat:
            try:
                run_command(
                    self.command(source, target, dir_target, flat),
                    what=f"pip install for {target.runtime} {target.architecture}",
                    env=self.index.pip_environment(),
                    cwd=cwd,
                    secrets=self.index.secrets(),
                )
            except InstallerFailedError as failed:
                explained = self._explain(failed, flat, target, cwd)
                if explained is None:
                    raise
                raise explained from failed

    def _explain(
        self,
        failed: InstallerFailedError,
        flat: PreparedRequirements,
        target: LayerTarget,
        cwd: Path,
    ) -> BuildError | None:
        """What pip's failure means: refused credentials, a missing package, or every
        package without a wheel (or a hash) for the target, asked of the index."""
        # pip reads PIP_INDEX_URL from the shell when no index was given.
        index = self.index.merged_over(IndexOptions.from_environment())
        known = pip_failure(failed.output, index.urls)
        if known is not None:
            return known
        missing = _NO_MATCH.search(failed.output)
        if missing or "DO NOT MATCH THE HASHES" in failed.output:
            pins, _ = flat.selection.pins()
            urls = diagnosis_indexes(flat.selection.source, index, cwd)
            problems = diagnose(pins, target, urls)
            if problems:
                return problems_error(problems, target)
        if missing:
            # Not pip's list of every version it saw (90 for numpy): the requirement is enough.
            return NoCompatibleWheelError(missing["requirement"], target.description)
        return None
