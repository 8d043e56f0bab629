"""An index password given through the environment never shows: not in the log at DEBUG,
not in an error, not on the CLI's stderr with -v, whether the install fails or not."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest
from layer_builder.cli import main
from layer_builder.errors import BuildError
from layer_builder.installers import Installer, PipInstaller, UvPipInstaller
from tests.conftest import MakeProject
from tests.installers.conftest import AuthIndex

INSTALLERS: dict[str, Callable[..., Installer]] = {"pip": PipInstaller, "uv-pip": UvPipInstaller}
ARM312 = LayerTarget("3.12", "arm64")


@pytest.fixture
def index_in_environment(
    monkeypatch: pytest.MonkeyPatch, auth_index: AuthIndex, tmp_path: Path
) -> AuthIndex:
    monkeypatch.setenv("PIP_INDEX_URL", auth_index.url_with_credentials)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # really ask the index
    return auth_index


@pytest.mark.parametrize("kind", INSTALLERS)
def test_environment_credentials_stay_out_of_logs_and_errors(
    kind: str,
    index_in_environment: AuthIndex,
    make_project: MakeProject,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = index_in_environment.password
    caplog.set_level(logging.DEBUG, logger="layer_builder")
    project = make_project({"tinyutil": "1.0.0"})
    out = tmp_path / "out"
    out.mkdir()
    INSTALLERS[kind]().install(Manifest.from_project(project), ARM312, out)
    assert (out / "tinyutil").is_dir(), "installed through the authenticated index"

    (project / "requirements.txt").write_text("tinyutil==9.9\n")
    (tmp_path / "failed").mkdir()
    with pytest.raises(BuildError) as info:
        INSTALLERS[kind]().install(Manifest.from_project(project), ARM312, tmp_path / "failed")
    assert "'tinyutil'" in str(info.value)
    cause = info.value.__cause__
    for text in (str(info.value), repr(cause), str(cause), caplog.text):
        assert secret not in text
    assert "tinyutil" in caplog.text, "the installer's output was logged"


def test_cli_with_environment_credentials_shows_none_with_verbose(
    index_in_environment: AuthIndex, make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = index_in_environment.password
    project = make_project({"tinyutil": "1.0.0"})
    assert main(["build", "--project", str(project), "-v"]) == 0
    out, err = capsys.readouterr()
    assert "command: " in err, "-v shows the command lines"
    assert secret not in out + err

    (project / "requirements.txt").write_text("tinyutil==9.9\n")
    assert main(["build", "--project", str(project), "-v"]) == 1
    out, err = capsys.readouterr()
    assert "layer-builder: error: no version of 'tinyutil'" in err
    assert secret not in out + err
