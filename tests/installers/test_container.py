"""ContainerInstaller: the exact command issued (no engine runs here), and a real run
that skips when no docker answers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from layer_builder import LayerPathLayout, LayerTarget, Manifest
from layer_builder.errors import ConfigurationError, ToolMissingError
from layer_builder.installers import IndexOptions
from layer_builder.installers.container import ContainerInstaller, engine_answers
from layer_builder.installers.wheel_check import incompatible_wheels
from layer_builder.steps.build import BuildStep, make_installer
from tests.cli.test_cli import run_subprocess
from tests.conftest import MakeProject, WheelIndex
from tests.installers.projects import write_uv_project
from tests.wheelhouse import WheelSpec, make_wheel

SECRET_URL = "https://aws:tok3n-in-env-only@example.invalid/simple/"


def test_command_mounts_project_read_only_and_targets_the_image(tmp_path: Path) -> None:
    installer = ContainerInstaller("docker", index=IndexOptions(SECRET_URL))
    requirements = tmp_path / "input" / "requirements.txt"
    command = installer.command(
        tmp_path / "project",
        requirements,
        LayerTarget("3.12", "arm64"),
        tmp_path / "out",
        require_hashes=True,
    )
    assert Path(command[0]).name == "docker"
    assert command[1:5] == ["run", "--rm", "--platform", "linux/arm64"]
    volumes = [command[i + 1] for i, part in enumerate(command) if part == "--volume"]
    assert volumes == [
        f"{tmp_path / 'project'}:/var/task:ro",
        f"{tmp_path / 'input'}:/tmp/layer-builder-input:ro",
        f"{tmp_path / 'out'}:/tmp/layer-builder-output:rw",
    ]
    assert f"{os.getuid()}:{os.getgid()}" in command
    image = command.index("public.ecr.aws/sam/build-python3.12:latest-arm64")
    assert command[image + 1 :] == [
        "python", "-m", "pip", "install",
        "-r", "/tmp/layer-builder-input/requirements.txt",
        "--target", "/tmp/layer-builder-output",
        "--no-compile", "--no-input", "--disable-pip-version-check",
        "--progress-bar", "off", "--require-hashes",
    ]  # fmt: skip
    # The index travels by variable name; docker reads the value from its environment.
    assert command[command.index("PIP_INDEX_URL") - 1] == "--env"
    assert not any("tok3n" in part for part in command)


def test_podman_and_x86_64(tmp_path: Path) -> None:
    command = ContainerInstaller("podman").command(
        tmp_path, tmp_path / "r.txt", LayerTarget("3.11", "x86_64"), tmp_path, require_hashes=False
    )
    assert Path(command[0]).name == "podman"
    assert "linux/amd64" in command
    assert "public.ecr.aws/sam/build-python3.11:latest-x86_64" in command
    assert "--require-hashes" not in command


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="choose docker or podman"):
        ContainerInstaller("lxc")


def test_missing_engine_names_the_fix(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    project = make_project({"tinyutil": "1.0.0"})
    step = BuildStep(
        LayerTarget("3.12", "arm64"),
        Manifest.from_project(project),
        LayerPathLayout(project),
        make_installer(Manifest.from_project(project).tool, container="podman"),
    )
    with pytest.raises(ToolMissingError, match="install podman, or build on the host"):
        step.run()


@pytest.mark.skipif(
    shutil.which("docker") is None or engine_answers("docker"),
    reason="needs a docker client whose engine does not answer",
)
def test_docker_without_an_engine_is_one_line_before_any_container_runs(
    make_project: MakeProject,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    # What docker itself says, read independently of the code under test.
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    said = next(line.strip() for line in info.stderr.splitlines() if line.strip())

    outcome = run_subprocess("build", "--project", project, "--container", "docker")

    assert outcome.error == (
        f"no docker engine answers (`docker info`: {said}), so the build cannot run in a "
        f"container: start the Docker daemon (or Docker Desktop) and check that `docker info` "
        f"works, or build on the host (drop --container)"
    )
    assert not (project / "build" / "lambda" / "layer" / "artifacts" / "python").exists()


def test_native_linux_wheels_pass_the_check_only_from_a_container(tmp_path: Path) -> None:
    tree = tmp_path / "python"
    tree.mkdir()
    import zipfile

    wheel = make_wheel(WheelSpec("native", "1.0", tag="cp312-cp312-linux_aarch64"), tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tree)
    target = LayerTarget("3.12", "arm64")
    assert [w.name for w in incompatible_wheels(tree, target)] == ["native"]
    assert incompatible_wheels(tree, target, built_natively=True) == ()
    assert incompatible_wheels(tree, LayerTarget("3.12", "x86_64"), built_natively=True)


@pytest.mark.container
@pytest.mark.skipif(not engine_answers("docker"), reason="no docker engine answers here")
def test_real_container_build(make_project: MakeProject) -> None:  # pragma: no cover
    project = make_project({"tinyutil": "1.0.0"})
    manifest = Manifest.from_project(project)
    result = BuildStep(
        LayerTarget("3.12", "x86_64"),
        manifest,
        LayerPathLayout(project),
        ContainerInstaller("docker", index=IndexOptions.from_environment()),
    ).run()
    assert {d.name for d in result.distributions} == {"tinyutil"}


def test_uv_export_for_the_container_names_the_lock_index(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = write_uv_project(tmp_path / "app", wheel_index.url, ["tinyhttp"])
    requirements = tmp_path / "requirements.txt"
    ContainerInstaller("docker").export(
        Manifest.from_project(project), requirements, LayerTarget("3.12", "arm64")
    )
    text = requirements.read_text()
    assert f"--index-url {wheel_index.url}" in text
    assert "tinyhttp==2.0.0" in text and "--hash=sha256:" in text


def test_host_pip_index_is_handed_over_by_name(tmp_path: Path, wheel_index: WheelIndex) -> None:
    # conftest sets PIP_INDEX_URL, as a user's shell may.
    command = ContainerInstaller("docker").command(
        tmp_path, tmp_path / "r.txt", LayerTarget("3.12", "x86_64"), tmp_path, require_hashes=False
    )
    assert command[command.index("PIP_INDEX_URL") - 1] == "--env"
    assert wheel_index.url not in " ".join(command)
