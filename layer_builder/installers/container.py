"""Build inside the Lambda build image (docker or podman) instead of on the host.

The lock is exported on the host (uv and Poetry exports are platform-independent and
need no network), then pip in ``public.ecr.aws/sam/build-python3.X:latest-<arch>``
installs it into the same staging folder a host build uses. Inside the image, source
distributions build for the runtime's own Python, glibc and CPU, so they are allowed.
The project is mounted read-only; index settings reach the container by variable name
only (``--env NAME``), so their values never appear on a command line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from layer_builder.choices import check_choice
from layer_builder.errors import ToolMissingError
from layer_builder.installers.base import IndexOptions, Installer, InstallOptions
from layer_builder.installers.pipenv import read_pipfile_lock, requirements_text
from layer_builder.installers.poetry import PoetryInstaller
from layer_builder.installers.process import run_command
from layer_builder.installers.pylock import index_lines, requirements_for_target
from layer_builder.installers.selection import (
    check_poetry_selection,
    refuse_selection_for_requirements,
    require_dependencies,
)
from layer_builder.installers.uv import UvInstaller
from layer_builder.installers.uv_pip import scratch_file
from layer_builder.model.manifest import Manifest, Tool
from layer_builder.model.target import LayerTarget

ENGINES = ("docker", "podman")

# Where things are mounted inside the container.
PROJECT_MOUNT = "/var/task"
REQUIREMENTS_MOUNT = "/tmp/layer-builder-input"
OUTPUT_MOUNT = "/tmp/layer-builder-output"


class ContainerInstaller(Installer):
    """Runs pip inside the runtime's SAM build image for the target architecture."""

    name = "container"
    #: Wheels built inside the image carry ``linux_<machine>`` tags and are still right.
    builds_natively = True

    def __init__(
        self,
        engine: str = "docker",
        index: IndexOptions | None = None,
        options: InstallOptions | None = None,
        image: str | None = None,
    ):
        check_choice(engine, ENGINES, "container engine", "--container docker")
        self.engine = engine
        # The container sees no pip configuration of the host: hand over the index the
        # host's pip environment names, unless one was given.
        self.index = (index or IndexOptions()).merged_over(IndexOptions.from_environment())
        self.options = options or InstallOptions()
        self.image = image
        self._engine_checked = False

    def fingerprint_fields(self) -> dict[str, object]:
        """The engine, the image and the install options: what decides the tree."""
        return {
            "installer": f"{self.name}:{self.engine}",
            "image": self.image,
            **self.options.fingerprint_fields(),
        }

    def image_for(self, target: LayerTarget) -> str:
        """The build image for ``target``: the one given, else the runtime's SAM image."""
        return self.image or target.build_image

    def command(
        self,
        project_dir: Path,
        requirements: Path,
        target: LayerTarget,
        dir_target: Path,
        *,
        require_hashes: bool,
    ) -> list[str]:
        """The exact ``docker run`` / ``podman run`` command; no secret is part of it."""
        engine = shutil.which(self.engine) or self.engine
        command = [engine, "run", "--rm", "--platform", target.container_platform]
        command += [
            "--volume", f"{project_dir}:{PROJECT_MOUNT}:ro",
            "--volume", f"{requirements.parent}:{REQUIREMENTS_MOUNT}:ro",
            "--volume", f"{dir_target}:{OUTPUT_MOUNT}:rw",
            "--workdir", PROJECT_MOUNT,
            "--user", f"{os.getuid()}:{os.getgid()}",
            "--env", "HOME=/tmp",
        ]  # fmt: skip
        for name in sorted(self.index.pip_environment()):
            command += ["--env", name]  # the value comes from the engine's environment
        command += [self.image_for(target), "python", "-m", "pip", "install"]
        command += [
            "-r", f"{REQUIREMENTS_MOUNT}/{requirements.name}",
            "--target", OUTPUT_MOUNT,
            "--no-compile",
            "--no-input",
            "--disable-pip-version-check",
            "--progress-bar", "off",
        ]  # fmt: skip
        if require_hashes:
            command.append("--require-hashes")
        return command

    def export(self, manifest: Manifest, requirements: Path, target: LayerTarget) -> None:
        """Write the manifest's locked dependencies as a requirements file on the host."""
        if manifest.tool is Tool.UV:
            # pip in the container reads the lock's indexes from the exported file.
            uv = UvInstaller(index=self.index, options=self.options)
            uv.export(manifest, requirements, emit_index_url=True)
        elif manifest.tool is Tool.POETRY:
            poetry = PoetryInstaller(index=self.index, options=self.options)
            poetry.export(manifest, requirements, target)
        elif manifest.tool is Tool.PYLOCK:
            text, lock_indexes = requirements_for_target(manifest, target, self.options)
            # pip in the container reads the lock's indexes from the file, unless one is given.
            if lock_indexes and not self.index.is_set:
                text = index_lines(lock_indexes) + text
            requirements.write_text(text, encoding="utf-8")
        elif manifest.tool is Tool.PIPENV:
            document = read_pipfile_lock(manifest)
            text = requirements_text(manifest, document, self.options.groups, not self.index.is_set)
            requirements.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(manifest.path, requirements)

    def check_engine(self) -> None:
        """A ``ToolMissingError`` when the engine is not installed, or no engine answers it
        (``docker`` without a running daemon would fail each build with exit code 125)."""
        if self._engine_checked:
            return
        if shutil.which(self.engine) is None:
            raise ToolMissingError(
                f"{self.engine} is not installed, so the build cannot run in a container: "
                f"install {self.engine}, or build on the host (drop --container)"
            )
        problem = engine_problem(self.engine)
        if problem is not None:
            start = _START_HINTS.get(self.engine, f"start the {self.engine} engine")
            raise ToolMissingError(
                f"no {self.engine} engine answers (`{self.engine} info`: {problem}), so the "
                f"build cannot run in a container: {start} and check that `{self.engine} "
                f"info` works, or build on the host (drop --container)"
            )
        self._engine_checked = True

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Export the manifest, then run pip inside the build image into ``dir_target``."""
        self.check_engine()
        if manifest.tool is Tool.POETRY:
            check_poetry_selection(manifest, self.options)
        elif manifest.tool is Tool.PIP:
            refuse_selection_for_requirements(manifest, self.options)
        with scratch_file("requirements.txt") as requirements:
            self.export(manifest, requirements, target)
            text = requirements.read_text(encoding="utf-8")
            require_dependencies(text, manifest, self.options)
            command = self.command(
                manifest.project_dir,
                requirements,
                target,
                dir_target,
                require_hashes="--hash=" in text,
            )
            run_command(
                command,
                what=f"{self.engine} build in {self.image_for(target)}",
                env=self.index.pip_environment(),
                cwd=manifest.project_dir,
                secrets=self.index.secrets(),
            )


#: What to do when the engine is installed but does not answer.
_START_HINTS = {
    "docker": "start the Docker daemon (or Docker Desktop)",
    "podman": "start podman's machine (`podman machine start`)",
}

#: ``<engine> info`` answers in well under a second when an engine runs; a remote engine
#: that never answers must not hold the build up.
ENGINE_TIMEOUT = 10.0


def engine_problem(engine: str = "docker", timeout: float = ENGINE_TIMEOUT) -> str | None:
    """Why ``<engine> info`` fails (the first line of its error), or None when an engine
    answers (a daemon, or a podman machine, is reachable)."""
    import subprocess

    try:
        result = subprocess.run(
            [engine, "info"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"no answer within {timeout:.0f} s"
    except OSError as exc:
        return exc.strerror or str(exc)
    if result.returncode == 0:
        return None
    # The first line says why; later ones may be noise ("errors pretty printing info").
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines()]
    return next((line for line in lines if line), f"exit code {result.returncode}")


def engine_answers(engine: str = "docker") -> bool:
    """Whether ``<engine> info`` succeeds (a daemon or a podman machine is reachable)."""
    return shutil.which(engine) is not None and engine_problem(engine) is None
