"""A requirements file gives the same set for the target with pip or uv, from this 3.11
host: markers are the target's, per-line options are pip's, --no-binary meets --allow-source."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest
from layer_builder.errors import NoDependenciesError, SourceBuildRefusedError
from layer_builder.installers import Installer, InstallOptions, PipInstaller, UvPipInstaller
from tests.conftest import WheelIndex

INSTALLERS = {"pip": PipInstaller, "uv": UvPipInstaller}


def installed(directory: Path) -> set[str]:
    return {p.name.removesuffix(".dist-info") for p in directory.glob("*.dist-info")}


def install(installer: Installer, project: Path, target: LayerTarget, out: Path) -> set[str]:
    out.mkdir()
    installer.install(Manifest.from_project(project), target, out)
    return installed(out)


def project_with(tmp_path: Path, text: str) -> Path:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(text)
    return project


MARKERS = (
    "tinyutil==1.1.0; python_version == '3.12'\n"
    "tinyutil==1.0.0; python_version == '3.11'\n"
    "tinyhttp==2.0.0; platform_machine == 'aarch64'\n"
)


@pytest.mark.parametrize("kind", INSTALLERS)
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (LayerTarget("3.12", "x86_64"), {"tinyutil-1.1.0"}),
        (LayerTarget("3.11", "x86_64"), {"tinyutil-1.0.0"}),
        (LayerTarget("3.12", "arm64"), {"tinyutil-1.1.0", "tinyhttp-2.0.0"}),
    ],
)
def test_markers_are_the_targets_whatever_the_installer(
    kind: str, target: LayerTarget, expected: set[str], tmp_path: Path
) -> None:
    project = project_with(tmp_path, MARKERS)
    assert install(INSTALLERS[kind](), project, target, tmp_path / "out") == expected


@pytest.mark.parametrize("kind", INSTALLERS)
def test_per_line_options_are_read_not_a_parse_error(
    kind: str, tmp_path: Path, wheel_index: WheelIndex, caplog: pytest.LogCaptureFixture
) -> None:
    hashes = " ".join(f"--hash=sha256:{h}" for h in wheel_index.hashes_of("tinyutil", "1.1.0"))
    project = project_with(
        tmp_path,
        f"tinyutil==1.1.0; python_version >= '3.8' --no-binary=:tinyutil: {hashes}\n"
        f"tinycli==1.0.0 --config-settings=key=value "
        + " ".join(f"--hash=sha256:{h}" for h in wheel_index.hashes_of("tinycli", "1.0.0"))
        + "\n",
    )
    caplog.set_level(logging.WARNING, logger="layer_builder")
    target = LayerTarget("3.12", "x86_64")
    result = install(INSTALLERS[kind](), project, target, tmp_path / "out")
    assert result == {"tinyutil-1.1.0", "tinycli-1.0.0"}
    assert (
        "requirements.txt:1: --no-binary=:tinyutil: names no package (':tinyutil:' is not a "
        "name, :all: or :none:), so pip ignores it"
    ) in caplog.messages


@pytest.mark.parametrize("kind", INSTALLERS)
def test_no_binary_meets_the_allow_source_rule(kind: str, tmp_path: Path) -> None:
    project = project_with(tmp_path, "tinyhttp==2.0.0 --no-binary tinyhttp\ntinyutil==1.1.0\n")
    with pytest.raises(SourceBuildRefusedError) as refused:
        install(INSTALLERS[kind](), project, LayerTarget("3.12", "arm64"), tmp_path / "out")
    assert str(refused.value) == (
        f"{project / 'requirements.txt'} asks to build tinyhttp from source (--no-binary "
        "tinyhttp), and a build on this host is for this host, not python3.12 arm64 (manylinux "
        "glibc <= 2.34): allow it (--allow-source tinyhttp), or remove the flag to install the "
        "published wheels"
    )


def test_an_allowed_no_binary_builds_from_source(tmp_path: Path) -> None:
    project = project_with(tmp_path, "sourceonly==1.0.0\n--no-binary sourceonly\n")
    installer = UvPipInstaller(options=InstallOptions(allow_source=["sourceonly"]))
    result = install(installer, project, LayerTarget("3.12", "arm64"), tmp_path / "out")
    assert result == {"sourceonly-1.0.0"}


@pytest.mark.parametrize("kind", INSTALLERS)
def test_markers_that_hold_nowhere_on_the_target_give_nothing_to_publish(
    kind: str, tmp_path: Path
) -> None:
    project = project_with(tmp_path, "tinyutil==1.1.0; sys_platform == 'win32'\n")
    with pytest.raises(NoDependenciesError) as refused:
        install(INSTALLERS[kind](), project, LayerTarget("3.12", "x86_64"), tmp_path / "out")
    assert str(refused.value) == (
        f"{project / 'requirements.txt'} gives nothing to install for python3.12 x86_64 "
        "(manylinux glibc <= 2.34) (none of its 1 requirements has a marker that holds on "
        "python3.12 x86_64), so there is nothing to publish: build for a target its markers "
        "name, or add requirements for this one"
    )


@pytest.mark.parametrize("kind", INSTALLERS)
def test_includes_and_constraints_apply_for_the_target(kind: str, tmp_path: Path) -> None:
    project = project_with(tmp_path, "-r base/common.txt\n-c base/pins.txt\n")
    (project / "base").mkdir()
    (project / "base" / "common.txt").write_text("tinyhttp\n")
    (project / "base" / "pins.txt").write_text(
        "tinyutil==1.0.0; python_version == '3.12'\ntinyutil==1.1.0; python_version == '3.11'\n"
    )
    result = install(INSTALLERS[kind](), project, LayerTarget("3.12", "x86_64"), tmp_path / "out")
    assert result == {"tinyhttp-2.0.0", "tinyutil-1.0.0"}


def test_a_requirement_built_from_a_url_meets_the_allow_source_rule(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    files = wheel_index.url.replace("/simple/", "/files/").rstrip("/")
    hashes = " ".join(f"--hash=sha256:{h}" for h in wheel_index.hashes_of("tinyutil", "1.1.0"))
    project = project_with(
        tmp_path, f"sourceonly @ {files}/sourceonly-1.0.0.tar.gz\ntinyutil==1.1.0 {hashes}\n"
    )
    target = LayerTarget("3.12", "x86_64")
    with pytest.raises(SourceBuildRefusedError) as refused:
        install(UvPipInstaller(), project, target, tmp_path / "refused")
    assert str(refused.value) == (
        f"{project / 'requirements.txt'}: sourceonly @ {files}/sourceonly-1.0.0.tar.gz is "
        "built from source (a repository or source archive, not a wheel), and a build on this "
        "host is for this host, not python3.12 x86_64 (manylinux glibc <= 2.34): allow it if it "
        "is pure Python (--allow-source sourceonly), or publish it as a wheel to an index and "
        "lock it from there"
    )
    # Allowed: built, while the hashes given are still checked (uv needs none for the URL).
    allowed = UvPipInstaller(options=InstallOptions(allow_source=["sourceonly"]))
    result = install(allowed, project, target, tmp_path / "allowed")
    assert result == {"sourceonly-1.0.0", "tinyutil-1.1.0"}


@pytest.mark.parametrize("kind", INSTALLERS)
def test_an_included_file_that_lists_nothing_gives_nothing_to_publish(
    kind: str, tmp_path: Path
) -> None:
    """Issue 19, item 4: ``-r other.txt`` naming an empty file published a 315-byte layer."""
    project = project_with(tmp_path, "-r other.txt\n")
    (project / "other.txt").write_text("# nothing yet\n")
    with pytest.raises(NoDependenciesError) as refused:
        install(INSTALLERS[kind](), project, LayerTarget("3.12", "x86_64"), tmp_path / "out")
    assert str(refused.value) == (
        f"{project / 'requirements.txt'} gives nothing to install for python3.12 x86_64 "
        "(manylinux glibc <= 2.34) (it lists no requirement), so there is nothing to publish: "
        "add the packages the layer should hold"
    )


def test_a_wheel_url_with_a_query_is_a_wheel_not_a_source_build(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    files = wheel_index.url.replace("/simple/", "/files/").rstrip("/")
    project = project_with(
        tmp_path, f"tinyutil @ {files}/tinyutil-1.1.0-py3-none-any.whl?token=not-a-secret\n"
    )
    result = install(UvPipInstaller(), project, LayerTarget("3.12", "x86_64"), tmp_path / "out")
    assert result == {"tinyutil-1.1.0"}
