"""Extras and groups a project does not define, and manifests with nothing to install, are
one-line errors before anything is installed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest
from layer_builder.cli import main
from layer_builder.errors import ConfigurationError, NoDependenciesError
from layer_builder.installers import (
    Installer,
    InstallOptions,
    PipInstaller,
    PoetryInstaller,
    UvInstaller,
    UvPipInstaller,
)
from layer_builder.installers.selection import has_requirements
from tests.conftest import WheelIndex
from tests.installers.projects import write_poetry_project, write_uv_project

ARM312 = LayerTarget("3.12", "arm64")


def install(installer: Installer, project: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    installer.install(Manifest.from_project(project), ARM312, out)
    return out


@pytest.fixture(scope="module")
def poetry_project(tmp_path_factory: pytest.TempPathFactory, wheel_index: WheelIndex) -> Path:
    return write_poetry_project(
        tmp_path_factory.mktemp("poetry") / "app",
        wheel_index.url,
        ["tinyutil"],
        dev=["tinyhttp"],
        extras={"http": ["tinyhttp"]},
    )


@pytest.fixture(scope="module")
def uv_project(tmp_path_factory: pytest.TempPathFactory, wheel_index: WheelIndex) -> Path:
    return write_uv_project(
        tmp_path_factory.mktemp("uv") / "app",
        wheel_index.url,
        ["tinyutil"],
        dev=["tinyhttp"],
        groups={"docs": []},
        extras={"http": ["tinyhttp"]},
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            InstallOptions(groups=["dev", "nope"]),
            "unknown group 'nope' (--group): {pyproject} defines these dependency groups: "
            "dev, main; use one of them, or add it and lock again",
        ),
        (
            InstallOptions(extras=["nope"]),
            "unknown extra 'nope' (--extra): {pyproject} defines these optional-dependencies: "
            "http; use one of them, or add it and lock again",
        ),
    ],
)
def test_poetry_refuses_what_the_project_does_not_define(
    poetry_project: Path, tmp_path: Path, options: InstallOptions, message: str
) -> None:
    # Read directly, the lock would install nothing for them; `poetry export` fails on two
    # lines: either way the user learns here what the project has.
    with pytest.raises(ConfigurationError) as info:
        install(PoetryInstaller(options=options), poetry_project, tmp_path)
    assert str(info.value) == message.format(pyproject=poetry_project / "pyproject.toml")


def test_poetry_names_are_compared_normalised(poetry_project: Path, tmp_path: Path) -> None:
    out = install(PoetryInstaller(options=InstallOptions(groups=["DEV"])), poetry_project, tmp_path)
    assert (out / "tinyhttp").is_dir()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            InstallOptions(groups=["nope"]),
            "unknown group 'nope' (--group): {pyproject} defines these dependency groups: "
            "dev, docs; use one of them, or add it and lock again",
        ),
        (
            InstallOptions(extras=["nope"]),
            "unknown extra 'nope' (--extra): {pyproject} defines these optional-dependencies: "
            "http; use one of them, or add it and lock again",
        ),
    ],
)
def test_uv_refusal_of_an_undefined_name_is_one_line(
    uv_project: Path, tmp_path: Path, options: InstallOptions, message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        install(UvInstaller(options=options), uv_project, tmp_path)
    assert str(info.value) == message.format(pyproject=uv_project / "pyproject.toml")


@pytest.mark.parametrize("installer_class", [UvPipInstaller, PipInstaller])
def test_a_requirements_file_has_no_groups(
    make_project: Callable[..., Path], installer_class: type[UvPipInstaller | PipInstaller]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    code = main(["build", "--project", str(project), "--group", "dev", "--extra", "yaml"])
    assert code == 1
    # pip used to drop them silently: the same refusal, whichever installs.
    code = main(["build", "--project", str(project), "--installer", "pip", "--extra", "yaml"])
    assert code == 1
    with pytest.raises(ConfigurationError) as info:
        installer = installer_class(options=InstallOptions(groups=["dev"], extras=["yaml"]))
        install(installer, project, project.parent)
    assert str(info.value) == (
        f"{project / 'requirements.txt'} has no extras or dependency groups, so --extra yaml "
        f"--group dev cannot apply: list the packages in requirements.txt, or drop the option"
    )


# -- nothing to publish ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pip", "uv-pip"])
def test_an_empty_requirements_file_is_refused(
    kind: str, make_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_project({})
    (project / "requirements.txt").write_text(
        "# generated\n--index-url https://pypi.org/simple/\n\n"
    )
    installer = PipInstaller() if kind == "pip" else UvPipInstaller()
    with pytest.raises(NoDependenciesError) as info:
        install(installer, project, tmp_path)
    assert str(info.value) == (
        f"{project / 'requirements.txt'} lists no dependencies, so there is nothing to "
        f"publish: add the packages the layer should hold (a line per package in "
        f"requirements.txt)"
    )
    assert not list((tmp_path / "out").iterdir())


def test_an_empty_uv_lock_is_refused(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = write_uv_project(tmp_path / "app", wheel_index.url, [], dev=["tinyutil"])
    with pytest.raises(NoDependenciesError) as info:
        install(UvInstaller(), project, tmp_path)
    assert str(info.value) == (
        f"{project / 'uv.lock'} lists no dependencies, so there is nothing to publish: add "
        f"the packages the layer should hold (`uv add NAME`, then `uv lock`)"
    )
    # The dev group has one, and asking for it is enough.
    options = InstallOptions(groups=["dev"])
    (tmp_path / "with-dev").mkdir()
    out = install(UvInstaller(options=options), project, tmp_path / "with-dev")
    assert (out / "tinyutil").is_dir()


def test_an_empty_poetry_lock_is_refused_naming_the_selection(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = write_poetry_project(tmp_path / "app", wheel_index.url, [], extras={"none": []})
    with pytest.raises(NoDependenciesError) as info:
        install(PoetryInstaller(options=InstallOptions(extras=["none"])), project, tmp_path)
    assert str(info.value) == (
        f"{project / 'poetry.lock'} lists no dependencies (main dependencies and extra "
        f"'none'), so there is nothing to publish: add the packages the layer should hold "
        f"(`poetry add NAME`, then `poetry lock`)"
    )


def test_cli_refuses_an_empty_manifest_on_one_line(
    make_project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({})
    assert main(["build", "--project", str(project)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        f"layer-builder: error: {project / 'requirements.txt'} lists no dependencies, so "
        f"there is nothing to publish: add the packages the layer should hold (a line per "
        f"package in requirements.txt)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        ("# only a comment\n\n", False),
        ("--index-url https://x/simple\n--extra-index-url https://y/simple\n", False),
        ("-c constraints.txt\n", False),
        ("tinyutil==1.0 \\\n    --hash=sha256:00\n", True),
        ("-r other.txt\n", True),
        ("-e ./local\n", True),
        ("pkg @ https://x/pkg-1.0-py3-none-any.whl#sha256=00\n", True),
    ],
)
def test_what_counts_as_a_dependency(text: str, expected: bool) -> None:
    assert has_requirements(text) is expected
