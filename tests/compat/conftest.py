"""Fixtures for the façade's tests: the ``settings`` module the old example scripts import,
projects of each tool locked against the local index, and a runner for the scripts."""

from __future__ import annotations

import runpy
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from layer_builder import AwsClients
from layer_builder.compat._layouts import default_python_version
from layer_builder.model.s3path import S3Path
from tests.conftest import MakeProject, WheelIndex
from tests.installers.conftest import UV_INDEX_VARIABLES
from tests.installers.projects import write_poetry_project, write_uv_project
from tests.wheelhouse import IndexServer, build_index

SCRIPTS = Path(__file__).parent / "scripts"
OLD_IMPORT = "import aws_lambda_artifact_builder.api as aws_lambda_artifact_builder"
NEW_IMPORT = "import layer_builder.compat.artifact_builder as aws_lambda_artifact_builder"
#: What the projects install: a distribution that requires another, and one the Lambda
#: runtime provides (left out of the zip by the old default list).
DEPENDENCIES = ("tinyhttp==2.0.0", "s3transfer==99.0.0")


@pytest.fixture(autouse=True)
def isolated_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in UV_INDEX_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@attrs.define
class Settings:
    """What ``example_repo/settings.py`` gave the old example scripts."""

    layer_name: str
    path_pyproject_toml: Path
    s3dir_lambda: S3Path
    bsm: Any
    layer_build_tool: str
    py_ver_major: int
    py_ver_minor: int
    is_arm: bool = False
    credentials: Any = None
    path_bin_pip: Path = Path(sys.executable).parent / "pip"
    path_bin_poetry: Path = Path("poetry")
    path_bin_uv: Path = Path("uv")


def make_tool_project(
    tool: str, directory: Path, wheel_index: WheelIndex, make_project: MakeProject
) -> Path:
    """A project of ``tool`` depending on ``DEPENDENCIES``, locked against the local index."""
    if tool == "uv":
        return write_uv_project(directory, wheel_index.url, DEPENDENCIES)
    if tool == "poetry":
        return write_poetry_project(directory, wheel_index.url, DEPENDENCIES)
    pins = dict(d.split("==") for d in (*DEPENDENCIES, "tinyutil==1.1.0"))
    return make_project(pins, name=directory.name)


MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(
    tmp_path: Path,
    wheel_index: WheelIndex,
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
) -> MakeSettings:
    """``make_settings("uv")``: the settings of a fresh uv project and S3 folder."""

    def make(tool: str, **changes: Any) -> Settings:
        project = make_tool_project(tool, tmp_path / f"{tool}_app", wheel_index, make_project)
        major, minor = (int(p) for p in default_python_version().split("."))
        settings = Settings(
            layer_name=layer_name,
            path_pyproject_toml=project / "pyproject.toml",
            s3dir_lambda=S3Path(f"s3://{bucket}/projects/my_app/lambda/").to_dir(),
            bsm=types.SimpleNamespace(s3_client=aws.s3, lambda_client=aws.lambda_),
            layer_build_tool=tool,
            py_ver_major=major,
            py_ver_minor=minor,
        )
        return attrs.evolve(settings, **changes)

    return make


RunScript = Callable[[str, Settings], dict[str, Any]]


@pytest.fixture
def run_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RunScript:
    """Run ``tests/compat/scripts/<name>`` with its import line changed to the façade, and
    ``settings`` importable; returns the script's globals."""

    def run(name: str, settings: Settings) -> dict[str, Any]:
        text = (SCRIPTS / name).read_text(encoding="utf-8")
        assert text.count(OLD_IMPORT) == 1
        script = tmp_path / "scripts" / name
        script.parent.mkdir(exist_ok=True)
        script.write_text(text.replace(OLD_IMPORT, NEW_IMPORT), encoding="utf-8")
        module = types.ModuleType("settings")
        module.settings = settings  # type: ignore[attr-defined]
        module.teardown_aws_lambda_artifact_builder = lambda: None  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "settings", module)
        return runpy.run_path(str(script), run_name="__main__")

    return run


@attrs.frozen
class AuthIndex:
    """The local index behind HTTP basic auth."""

    url: str
    user: str
    password: str


@pytest.fixture(scope="session")
def auth_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthIndex]:
    root = tmp_path_factory.mktemp("compat-auth-index")
    build_index(root)
    password = "compat-s3cr3t-t0ken"
    server = IndexServer(root, credentials=f"aws:{password}").start()
    yield AuthIndex(server.url, "aws", password)
    server.stop()
