"""PipenvInstaller: a Pipfile.lock installed as locked for the target, without Pipenv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest, Tool
from layer_builder.errors import ConfigurationError, ProjectError
from layer_builder.installers import InstallOptions, PipenvInstaller
from layer_builder.installers.pins import read_pins
from tests.conftest import WheelIndex

ARM312 = LayerTarget("3.12", "arm64")


def entry(wheel_index: WheelIndex, name: str, version: str, **more: str) -> dict[str, object]:
    hashes = [f"sha256:{h}" for h in wheel_index.hashes_of(name, version)]
    return {"hashes": hashes, "index": "local", "version": f"=={version}", **more}


def pipenv_project(tmp_path: Path, wheel_index: WheelIndex) -> Path:
    project = tmp_path / "app"
    project.mkdir()
    lock = {
        "_meta": {
            "hash": {"sha256": "0" * 64},
            "pipfile-spec": 6,
            "requires": {"python_version": "3.12"},
            "sources": [{"name": "local", "url": wheel_index.url, "verify_ssl": False}],
        },
        "default": {
            "tinyhttp": entry(wheel_index, "tinyhttp", "2.0.0"),
            "tinyutil": entry(wheel_index, "tinyutil", "1.1.0", markers="python_version >= '3.8'"),
            "tinycli": entry(wheel_index, "tinycli", "1.0.0", markers="sys_platform == 'win32'"),
        },
        "develop": {"tiny-yaml": entry(wheel_index, "Tiny-YAML", "6.0.0")},
    }
    (project / "Pipfile.lock").write_text(json.dumps(lock, indent=4))
    (project / "Pipfile").write_text('[packages]\ntinyhttp = "*"\n')
    return project


def install(project: Path, tmp_path: Path, **options: object) -> set[str]:
    out = tmp_path / "out"
    out.mkdir()
    installer = PipenvInstaller(options=InstallOptions(**options))  # type: ignore[arg-type]
    installer.install(Manifest.from_project(project), ARM312, out)
    return {p.name.removesuffix(".dist-info") for p in out.glob("*.dist-info")}


def test_the_lock_is_detected_and_its_default_packages_install(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = pipenv_project(tmp_path, wheel_index)
    assert Manifest.from_project(project).tool is Tool.PIPENV
    assert install(project, tmp_path) == {"tinyhttp-2.0.0", "tinyutil-1.1.0"}


@pytest.mark.parametrize("group", ["develop", "dev"])
def test_develop_only_when_asked(group: str, tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = pipenv_project(tmp_path, wheel_index)
    installed = install(project, tmp_path, groups=[group])
    assert installed == {"tinyhttp-2.0.0", "tinyutil-1.1.0", "Tiny_YAML-6.0.0"}


def test_the_locks_source_serves_when_no_index_is_given(
    tmp_path: Path, wheel_index: WheelIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIP_INDEX_URL")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # really ask the index
    project = pipenv_project(tmp_path, wheel_index)
    assert install(project, tmp_path) == {"tinyhttp-2.0.0", "tinyutil-1.1.0"}


def test_an_unknown_group_names_the_categories(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = pipenv_project(tmp_path, wheel_index)
    with pytest.raises(ConfigurationError) as refused:
        install(project, tmp_path, groups=["docs"])
    assert str(refused.value) == (
        f"unknown group 'docs' (--group): {project / 'Pipfile.lock'} holds these package "
        "categories: default, develop; use one of them, or `pipenv lock` with it"
    )


def test_a_broken_lock_says_how_to_write_it_again(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "Pipfile.lock").write_text("{not json")
    with pytest.raises(ProjectError) as refused:
        install(project, tmp_path)
    assert str(refused.value).startswith(f"{project / 'Pipfile.lock'} is not valid JSON (")
    assert str(refused.value).endswith("): write it again with `pipenv lock`")


def test_plan_reads_the_pins_for_the_target(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = pipenv_project(tmp_path, wheel_index)
    pins = read_pins(Manifest.from_project(project), ARM312)
    assert pins.complete and pins.versions == {
        "tinyhttp": ("tinyhttp", "2.0.0"),
        "tinyutil": ("tinyutil", "1.1.0"),
    }
