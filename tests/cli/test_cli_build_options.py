"""The build options of ``layer-builder build``: flags and ``[tool.layer_builder]`` keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from layer_builder import LayerPathLayout
from layer_builder.cli import main
from tests.conftest import MakeProject, WheelIndex
from tests.installers.projects import write_uv_project


@pytest.fixture
def uv_project(tmp_path: Path, wheel_index: WheelIndex) -> Path:
    return write_uv_project(
        tmp_path / "app",
        wheel_index.url,
        ["tinyutil", "sourceonly; extra == 'src'"],
        dev=["s3transfer"],
        groups={"runtime": ["tinyhttp"]},
        extras={"yaml": ["tiny-yaml"], "src": ["sourceonly"]},
    )


def build(project: Path, *flags: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(["build", "--project", str(project), "--arch", "arm64", "--json", *flags])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def test_groups_and_extras_from_flags(uv_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = build(uv_project, capsys=capsys)
    assert plain["distributions"] == {"tinyutil": "1.1.0"}
    more = build(uv_project, "--group", "runtime", "--extra", "yaml", capsys=capsys)
    assert set(more["distributions"]) == {"tinyutil", "tinyhttp", "Tiny-YAML"}  # type: ignore[arg-type]


def test_groups_and_extras_from_pyproject(
    uv_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (uv_project / "pyproject.toml").open("a") as f:
        f.write('\n[tool.layer_builder]\ngroups = ["runtime"]\nextras = ["yaml"]\n')
    # [tool.layer_builder] is no input of uv's resolution: the lock stays current.
    result = build(uv_project, capsys=capsys)
    assert set(result["distributions"]) == {"tinyutil", "tinyhttp", "Tiny-YAML"}  # type: ignore[arg-type]


def test_allow_source_flag(uv_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", "--project", str(uv_project), "--arch", "arm64", "--extra", "src"])
    assert code == 1
    assert "--allow-source sourceonly" in capsys.readouterr().err
    result = build(uv_project, "--extra", "src", "--allow-source", "sourceonly", capsys=capsys)
    assert set(result["distributions"]) == {"tinyutil", "sourceonly"}  # type: ignore[arg-type]


def test_stale_lock_is_one_line(
    uv_project: Path, wheel_index: WheelIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    write_uv_project(uv_project, wheel_index.url, ["tinyutil", "tinyhttp"], lock=False)
    assert main(["build", "--project", str(uv_project)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("layer-builder: error: ")
    assert "is out of date" in err and "run `uv lock`" in err


def test_missing_container_engine(
    uv_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["build", "--project", str(uv_project), "--container", "podman"]) == 1
    assert "podman is not installed" in capsys.readouterr().err


def test_bad_codeartifact_repository(uv_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--project", str(uv_project), "--codeartifact", "nodomain"]) == 1
    assert "expected domain/repository" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["build"], ["run", "--layer-name", "x", "--s3dir", "s3://b-x/a/", "--local"]]
)
def test_codeartifact_and_index_url_flags_together_are_refused(
    make_project: MakeProject, cli: Any, command: list[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli(*command, "--project", project, "--codeartifact", "dom/repo",
                  "--index-url", "http://127.0.0.1:9/simple/")  # fmt: skip
    assert outcome.error == (
        "--codeartifact and --index-url both name the package index: give one of them "
        "(--extra-index-url adds an index to either)"
    )
    assert not (project / "build").exists()


def test_codeartifact_and_index_url_keys_together_are_refused(
    make_project: MakeProject, cli: Any, wheel_index: WheelIndex
) -> None:
    project = make_project(
        {"tinyutil": "1.0.0"},
        pyproject_extra='[tool.layer_builder]\ncodeartifact = "dom/repo"\n'
        'index_url = "http://127.0.0.1:9/simple/"\n',
    )
    outcome = cli("build", "--project", project)
    assert outcome.error == (
        f"[tool.layer_builder] of {project / 'pyproject.toml'} has both codeartifact and "
        f"index_url, which both name the package index: keep one of them (extra_index_urls "
        f"adds an index to either)"
    )
    # A flag of either names the index, over both keys.
    assert cli("build", "--project", project, "--index-url", wheel_index.url).code == 0


def test_installer_flag_and_key_choose_pip_over_the_default_uv(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    record = LayerPathLayout(project).path_build_record

    def installer_of_last_build() -> str:
        return str(json.loads(record.read_text())["installer"])

    assert build(project, capsys=capsys)["cached"] is False
    assert installer_of_last_build() == "uv-pip"  # the default, without any flag
    forced = build(project, "--installer", "pip", capsys=capsys)
    assert forced["cached"] is False  # another installer: another build
    assert installer_of_last_build() == "pip"
    with (project / "pyproject.toml").open("a") as f:
        f.write('\n[tool.layer_builder]\ninstaller = "pip"\n')
    assert build(project, capsys=capsys)["cached"] is True
    assert build(project, "--installer", "uv", capsys=capsys)["cached"] is False
    assert installer_of_last_build() == "uv-pip"


def test_an_unknown_installer_flag_is_a_usage_error(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    with pytest.raises(SystemExit) as caught:
        main(["build", "--project", str(project), "--installer", "conda"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --installer: invalid choice: 'conda' (choose from" in err
    assert not LayerPathLayout(project).dir_python.exists()


def test_an_unknown_installer_key_is_one_line(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(
        {"tinyutil": "1.0.0"}, pyproject_extra='\n[tool.layer_builder]\ninstaller = "conda"\n'
    )
    assert main(["build", "--project", str(project)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["layer-builder: error: unknown installer 'conda': choose uv or pip"]
    assert not LayerPathLayout(project).dir_python.exists()
