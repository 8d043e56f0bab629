"""requirements.txt: pip and ``uv pip`` fill the same tree for the target."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest
from layer_builder.cli import main
from layer_builder.errors import (
    BuildError,
    ConfigurationError,
    NoCompatibleWheelError,
    ToolMissingError,
)
from layer_builder.installers import (
    IndexOptions,
    Installer,
    InstallOptions,
    PipInstaller,
    UvPipInstaller,
)
from tests.conftest import MakeProject
from tests.installers.conftest import AuthIndex

INSTALLERS: dict[str, Callable[..., Installer]] = {"pip": PipInstaller, "uv-pip": UvPipInstaller}
ARM312 = LayerTarget("3.12", "arm64")


def files(root: Path) -> set[str]:
    """Every file outside the ``*.dist-info`` folders (their INSTALLER differs by tool)."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".dist-info" not in p.parent.name
    }


def install(installer: Installer, project: Path, target: LayerTarget, out: Path) -> Path:
    out.mkdir(parents=True)
    installer.install(Manifest.from_project(project), target, out)
    return out


def test_pip_and_uv_give_the_same_tree(make_project: MakeProject, tmp_path: Path) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0"})
    via_pip = install(PipInstaller(), project, ARM312, tmp_path / "pip")
    via_uv = install(UvPipInstaller(), project, ARM312, tmp_path / "uv")
    assert files(via_pip) == files(via_uv)
    assert "fastcalc/_speedups.cpython-312-aarch64-linux-gnu.so" in files(via_uv)
    assert sorted(p.name for p in via_pip.glob("*.dist-info")) == sorted(
        p.name for p in via_uv.glob("*.dist-info")
    )


@pytest.mark.parametrize("kind", INSTALLERS)
def test_unhashed_requirements_install_too(
    kind: str, make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project({"tinyutil": "1.1.0"}, hashes=False)
    out = install(INSTALLERS[kind](), project, ARM312, tmp_path / "out")
    assert (out / "tinyutil" / "__init__.py").read_text() == "VERSION = '1.1.0'\n"


def test_pip_refuses_to_build_from_source_for_another_platform(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    installer = PipInstaller(options=InstallOptions(allow_source=["SourceOnly"]))
    with pytest.raises(ConfigurationError) as info:
        install(installer, project, ARM312, tmp_path / "out")
    assert str(info.value) == (
        "--allow-source sourceonly needs uv: pip builds nothing from source for another "
        "platform; drop --installer pip (uv is the default), or drop --allow-source"
    )
    # Through the command line, where it used to be dropped silently.
    code = main(["build", "--project", str(project), "--installer", "pip",
                 "--allow-source", "sourceonly"])  # fmt: skip
    assert code == 1


@pytest.mark.parametrize("kind", INSTALLERS)
def test_source_only_requirement_is_refused(
    kind: str, make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project({"sourceonly": "1.0.0"})
    with pytest.raises(NoCompatibleWheelError, match="sourceonly"):
        install(INSTALLERS[kind](), project, ARM312, tmp_path / "out")


def test_uv_pip_uses_the_pip_environment_index_by_default(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # conftest points PIP_INDEX_URL at the local index; uv must follow it, as pip does.
    index = IndexOptions.from_environment()
    assert index.index_url and index.index_url.startswith("http://127.0.0.1")
    project = make_project({"tinyutil": "1.0.0"})
    out = install(UvPipInstaller(index=index), project, ARM312, tmp_path / "out")
    assert (out / "tinyutil").is_dir()


@pytest.mark.parametrize("kind", INSTALLERS)
def test_index_credentials_stay_out_of_argv_logs_errors_and_tree(
    kind: str,
    make_project: MakeProject,
    tmp_path: Path,
    auth_index: AuthIndex,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("PIP_INDEX_URL")
    index = IndexOptions(index_url=auth_index.url_with_credentials)
    assert auth_index.password not in repr(index)
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    caplog.set_level(logging.DEBUG, logger="layer_builder")

    out = install(INSTALLERS[kind](index=index), project, ARM312, tmp_path / "out")
    assert (out / "tinyhttp").is_dir(), "the install went through the authenticated index"

    (project / "requirements.txt").write_text("no-such-package==1.0\n")
    with pytest.raises(BuildError) as info:
        install(INSTALLERS[kind](index=index), project, ARM312, tmp_path / "failed")
    assert "no-such-package" in str(info.value)
    assert auth_index.password not in str(info.value)
    assert auth_index.password not in repr(info.value.__cause__)
    assert auth_index.password not in caplog.text
    assert "no-such-package" in caplog.text, "the logs do carry the installer output"
    for path in out.rglob("*"):
        if path.is_file():
            assert auth_index.password.encode() not in path.read_bytes(), path


def test_wrong_credentials_fail_with_the_output(
    make_project: MakeProject,
    tmp_path: Path,
    auth_index: AuthIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PIP_INDEX_URL")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # no cached index pages
    wrong = auth_index.url.replace("http://", "http://builder:wrong-password@")
    project = make_project({"tinyutil": "1.0.0"})
    with pytest.raises(BuildError) as info:
        install(UvPipInstaller(index=IndexOptions(wrong)), project, ARM312, tmp_path / "o")
    assert "401" in str(info.value) or "tinyutil" in str(info.value)
    assert "wrong-password" not in str(info.value)


def test_cli_index_url_secret_stays_out_of_output_and_tree(
    make_project: MakeProject,
    auth_index: AuthIndex,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PIP_INDEX_URL")
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    flags = ["--index-url", auth_index.url_with_credentials, "-v"]
    assert main(["build", "--project", str(project), "--arch", "arm64", "--json", *flags]) == 0
    out, err = capsys.readouterr()
    assert set(json.loads(out)["distributions"]) == {"tinyhttp", "tinyutil"}
    assert auth_index.password not in out + err

    (project / "requirements.txt").write_text("tinyutil==9.9\n")
    assert main(["build", "--project", str(project), "--arch", "arm64", *flags]) == 1
    out, err = capsys.readouterr()
    assert "tinyutil" in err
    assert auth_index.password not in out + err
    for path in project.rglob("*"):
        if path.is_file():
            assert auth_index.password.encode() not in path.read_bytes(), path


def test_an_old_pip_is_refused_with_the_upgrade_command(tmp_path: Path) -> None:
    # An interpreter whose pip predates 24: a script answering `-m pip --version` as pip 23 does.
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 'pip 23.2.1 from /somewhere/pip (python 3.11)'\n")
    python.chmod(0o755)
    with pytest.raises(ToolMissingError) as caught:
        PipInstaller(python=str(python)).check_version()
    assert str(caught.value) == (
        f"pip 23.2.1 of {python} is too old to install for another Python version: "
        f"run `{python} -m pip install -U 'pip>=24.0'`"
    )


def test_an_interpreter_without_pip_is_refused(tmp_path: Path) -> None:
    python = tmp_path / "no-such-python"
    with pytest.raises(ToolMissingError) as caught:
        PipInstaller(python=str(python)).check_version()
    assert str(caught.value) == (
        f"pip is not available for {python}: run `{python} -m ensurepip` or choose another "
        f"interpreter"
    )
