"""PoetryInstaller: a Poetry 2 project whose only source is the local index."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from layer_builder import LayerTarget, Manifest
from layer_builder.errors import PythonRangeError, StaleLockError, ToolMissingError
from layer_builder.installers import IndexOptions, InstallOptions, PoetryInstaller, find_poetry
from layer_builder.installers.poetry_graph import PoetryNeeded
from layer_builder.installers.poetry_lock import content_hash, export_for_target
from tests.conftest import WheelIndex
from tests.installers.conftest import AuthIndex
from tests.installers.projects import write_poetry_project

ARM312 = LayerTarget("3.12", "arm64")


def installed(directory: Path) -> set[str]:
    return {p.name.split("-")[0] for p in directory.glob("*.dist-info")}


@pytest.fixture(scope="module")
def poetry_project(tmp_path_factory: pytest.TempPathFactory, wheel_index: WheelIndex) -> Path:
    """Locked once for the module: ``poetry lock`` takes a couple of seconds."""
    return write_poetry_project(
        tmp_path_factory.mktemp("poetry") / "app",
        wheel_index.url,
        ["tinyhttp", "fastcalc"],
        dev=["s3transfer"],
        extras={"yaml": ["tiny-yaml"]},
    )


def install(installer: PoetryInstaller, project: Path, target: LayerTarget, out: Path) -> Path:
    out.mkdir(parents=True)
    installer.install(Manifest.from_project(project), target, out)
    return out


def test_arm64_build_takes_main_group_only(poetry_project: Path, tmp_path: Path) -> None:
    out = install(PoetryInstaller(), poetry_project, ARM312, tmp_path / "out")
    assert installed(out) == {"tinyhttp", "tinyutil", "fastcalc"}
    assert (out / "fastcalc" / "_speedups.cpython-312-aarch64-linux-gnu.so").is_file()
    assert not (out / "s3transfer").exists(), "the dev group must stay out"
    assert not (poetry_project / "requirements.txt").exists(), "export goes to a temp file"


def test_extras_and_groups_are_options(poetry_project: Path, tmp_path: Path) -> None:
    installer = PoetryInstaller(options=InstallOptions(extras=["yaml"], groups=["dev"]))
    out = install(installer, poetry_project, ARM312, tmp_path / "out")
    assert installed(out) == {"tinyhttp", "tinyutil", "fastcalc", "Tiny_YAML", "s3transfer"}


def test_pip_gives_the_same_tree_as_uv(poetry_project: Path, tmp_path: Path) -> None:
    with_uv = install(PoetryInstaller(), poetry_project, ARM312, tmp_path / "uv")
    with_pip = install(PoetryInstaller(use_uv=False), poetry_project, ARM312, tmp_path / "pip")

    def packages(root: Path) -> set[str]:
        return {
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and ".dist-info" not in str(p)
        }

    assert packages(with_uv) == packages(with_pip)
    assert installed(with_uv) == installed(with_pip)


def test_export_command_defaults_to_the_main_group(tmp_path: Path) -> None:
    command = PoetryInstaller(poetry="poetry").export_command(tmp_path / "r.txt")
    assert command[:2] == ["poetry", "export"]
    assert "--without-hashes" not in command
    assert "--with" not in command and "--all-groups" not in command
    assert "--without-urls" not in command


def test_stale_lock_is_an_error(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = write_poetry_project(tmp_path / "app", wheel_index.url, ["tinyutil"])
    lock_before = (project / "poetry.lock").read_bytes()
    write_poetry_project(project, wheel_index.url, ["tinyutil", "tinyhttp"], lock=False)
    with pytest.raises(StaleLockError, match=r"poetry\.lock is out of date .* run `poetry lock`"):
        install(PoetryInstaller(), project, ARM312, tmp_path / "out")
    assert (project / "poetry.lock").read_bytes() == lock_before


def test_missing_export_plugin_names_the_fix(poetry_project: Path, tmp_path: Path) -> None:
    poetry = find_poetry()
    assert poetry
    # A poetry that loads no plugins behaves like one without poetry-plugin-export.
    wrapper = tmp_path / "poetry-without-plugins"
    wrapper.write_text(f'#!/bin/sh\nexec "{poetry}" --no-plugins "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(ToolMissingError, match="poetry-plugin-export"):
        install(PoetryInstaller(poetry=str(wrapper)), poetry_project, ARM312, tmp_path / "out")


def test_missing_poetry_names_the_fix(
    poetry_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("sys.executable", os.fspath(tmp_path / "python"))
    assert find_poetry() is None
    with pytest.raises(ToolMissingError) as missing:
        install(PoetryInstaller(), poetry_project, ARM312, tmp_path / "out")
    assert str(missing.value) == (
        f"{poetry_project / 'poetry.lock'} can only be exported by Poetry (it installs from "
        "the package sources local), and poetry is not installed: run `python -m pip install "
        "poetry poetry-plugin-export`"
    )


def _pypi_only_copy(project: Path, destination: Path) -> Path:
    """``project`` as if locked against PyPI: no source in pyproject.toml or in the lock,
    content-hash recomputed (checked against Poetry's own Locker)."""
    import re

    from poetry.packages.locker import Locker

    from layer_builder.cli.config import tomllib

    destination.mkdir()
    pyproject = (project / "pyproject.toml").read_text()
    pyproject = pyproject[: pyproject.index("[[tool.poetry.source]]")]
    (destination / "pyproject.toml").write_text(pyproject)
    data = tomllib.loads(pyproject)
    new_hash = content_hash(data)
    assert new_hash == Locker(destination / "poetry.lock", data)._get_content_hash()
    lock = re.sub(
        r"\n\[package\.source\]\n(?:[a-z]+ = .*\n)+", "\n", (project / "poetry.lock").read_text()
    )
    lock = re.sub(r'content-hash = "[0-9a-f]+"', f'content-hash = "{new_hash}"', lock)
    (destination / "poetry.lock").write_text(lock)
    return destination


def _poetry_export_for(project: Path, target: LayerTarget, options: InstallOptions) -> set[str]:
    """What ``poetry export`` says, with its markers evaluated on the target."""
    from packaging.requirements import Requirement

    from layer_builder.model.target import marker_environment

    out = project / "exported.txt"
    installer = PoetryInstaller(options=options, read_lock_directly=False)
    installer.export(Manifest.from_project(project), out, target)
    text = out.read_text().replace("\\\n", " ")
    out.unlink()
    selected = set()
    for line in text.splitlines():
        if not line.strip() or line.startswith("-"):
            continue
        requirement = Requirement(line.split(" --hash")[0])
        hashes = sorted(h.strip() for h in line.split("--hash=")[1:])
        holds = requirement.marker is None or any(
            requirement.marker.evaluate(marker_environment(target, e))
            for e in ("", *options.extras)
        )
        if holds:
            selected.add(f"{canonicalize_name(requirement.name)}{requirement.specifier} {hashes}")
    return selected


def _direct_for(project: Path, target: LayerTarget, options: InstallOptions) -> set[str]:
    text = export_for_target(project / "poetry.lock", target, options.groups, options.extras)
    selected = set()
    for entry in text.replace("\\\n", " ").splitlines():
        name, rest = entry.split("==", 1)
        version = rest.split()[0]
        hashes = sorted(h.strip() for h in entry.split("--hash=")[1:])
        selected.add(f"{canonicalize_name(name)}=={version} {hashes}")
    return selected


@pytest.mark.parametrize(
    "options",
    [InstallOptions(), InstallOptions(groups=["dev"]), InstallOptions(extras=["yaml"])],
)
@pytest.mark.parametrize("target", [ARM312, LayerTarget("3.11", "x86_64")])
def test_reading_the_lock_directly_matches_poetry_export(
    poetry_project: Path, tmp_path: Path, options: InstallOptions, target: LayerTarget
) -> None:
    project = _pypi_only_copy(poetry_project, tmp_path / "pypi")
    direct = _direct_for(project, target, options)
    assert direct == _poetry_export_for(project, target, options)
    assert any(s.startswith("tiny-yaml==") for s in direct) == bool(options.extras)
    assert any(s.startswith("s3transfer==") for s in direct) == bool(options.groups)


def test_stale_or_sourced_lock_is_left_to_poetry(poetry_project: Path, tmp_path: Path) -> None:
    with pytest.raises(PoetryNeeded, match="installs from the package sources local"):
        export_for_target(poetry_project / "poetry.lock", ARM312)
    project = _pypi_only_copy(poetry_project, tmp_path / "pypi")
    with (project / "pyproject.toml").open("a") as f:
        f.write('\n[dependency-groups]\nnew = ["tinyutil"]\n')
    with pytest.raises(PoetryNeeded, match=r"content-hash does not match pyproject\.toml"):
        export_for_target(project / "poetry.lock", ARM312)


def _as_lock_2_0(project: Path, destination: Path) -> Path:
    """``project``'s lock as Poetry 1.5-1.8 write it (lock-version 2.0): no groups or
    markers per package, only the dependency graph."""
    import re

    destination.mkdir()
    (destination / "pyproject.toml").write_bytes((project / "pyproject.toml").read_bytes())
    lock = (project / "poetry.lock").read_text()
    lock = re.sub(r"^groups = \[.*\]\n", "", lock, flags=re.M)
    lock = re.sub(r"^markers = .*\n", "", lock, flags=re.M)
    lock = re.sub(r"^\[package\.markers\]\n(?:.+ = .*\n)*", "", lock, flags=re.M)
    lock = lock.replace('lock-version = "2.1"', 'lock-version = "2.0"')
    assert "groups =" not in lock and 'lock-version = "2.0"' in lock
    (destination / "poetry.lock").write_text(lock)
    return destination


@pytest.mark.parametrize(
    "options",
    [InstallOptions(), InstallOptions(groups=["dev"]), InstallOptions(extras=["yaml"])],
)
@pytest.mark.parametrize("target", [ARM312, LayerTarget("3.11", "x86_64")])
def test_a_lock_2_0_is_read_by_walking_its_graph(
    poetry_project: Path, tmp_path: Path, options: InstallOptions, target: LayerTarget
) -> None:
    project = _as_lock_2_0(_pypi_only_copy(poetry_project, tmp_path / "pypi"), tmp_path / "2.0")
    direct = _direct_for(project, target, options)
    assert direct == _poetry_export_for(project, target, options)
    assert any(s.startswith("tiny-yaml==") for s in direct) == bool(options.extras)
    assert any(s.startswith("s3transfer==") for s in direct) == bool(options.groups)


@pytest.mark.parametrize("target", [ARM312, LayerTarget("3.10", "x86_64")])
def test_the_reference_lock_as_2_0_is_read_like_poetry(tmp_path: Path, target: LayerTarget) -> None:
    """Per-package markers (``python_version == "3.10"``) are found again on the graph's
    edges."""
    from tests.installers.test_reference_projects import copy_reference_project

    project = _as_lock_2_0(copy_reference_project("poetry-app", tmp_path), tmp_path / "2.0")
    options = InstallOptions(groups=["dev"])
    direct = _direct_for(project, target, options)
    assert direct == _poetry_export_for(project, target, options)
    assert any(s.startswith("tomli==") for s in direct) == (target.python_version == "3.10")


def test_a_lock_2_0_installs_without_poetry(
    poetry_project: Path, tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = _as_lock_2_0(_pypi_only_copy(poetry_project, tmp_path / "pypi"), tmp_path / "2.0")
    # A Poetry that is not there: running it would fail with "was not found on PATH".
    missing = os.fspath(tmp_path / "no-poetry")
    installer = PoetryInstaller(poetry=missing, index=IndexOptions(wheel_index.url))
    out = install(installer, project, ARM312, tmp_path / "out")
    assert installed(out) == {"tinyhttp", "tinyutil", "fastcalc"}


def test_a_target_outside_the_python_range_is_refused(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = write_poetry_project(tmp_path / "app", wheel_index.url, ["tinyhttp"])
    # As poetry lock writes it for requires-python = ">=3.12,<3.13" (it refuses to lock that
    # range on this 3.11 host).
    lock = (project / "poetry.lock").read_text()
    (project / "poetry.lock").write_text(lock.replace(">=3.10,<4", ">=3.12,<3.13"))
    with pytest.raises(PythonRangeError) as refused:
        install(PoetryInstaller(), project, LayerTarget("3.13", "x86_64"), tmp_path / "out")
    assert str(refused.value) == (
        f"{project / 'poetry.lock'} is for Python >=3.12,<3.13 (python-versions in poetry.lock), "
        "which python3.13 is not: build for python3.12 (e.g. --python 3.12), or widen the "
        "project's Python range and lock again"
    )


@pytest.mark.parametrize("target", [ARM312, LayerTarget("3.10", "x86_64")])
def test_reading_the_reference_lock_directly_matches_poetry_export(
    tmp_path: Path, target: LayerTarget
) -> None:
    """The bench poetry-app lock has per-package markers (``python_version == "3.10"``)."""
    from tests.installers.test_reference_projects import copy_reference_project

    project = copy_reference_project("poetry-app", tmp_path)
    options = InstallOptions(groups=["dev"])
    direct = _direct_for(project, target, options)
    assert direct == _poetry_export_for(project, target, options)
    assert any(s.startswith("tomli==") for s in direct) == (target.python_version == "3.10")


def test_private_source_with_credentials_from_the_environment(
    tmp_path: Path,
    auth_index: AuthIndex,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("POETRY_HTTP_BASIC_LOCAL_USERNAME", auth_index.user)
    monkeypatch.setenv("POETRY_HTTP_BASIC_LOCAL_PASSWORD", auth_index.password)
    project = write_poetry_project(tmp_path / "app", auth_index.url, ["tinyhttp"])
    monkeypatch.delenv("POETRY_HTTP_BASIC_LOCAL_PASSWORD")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # really ask the index
    caplog.set_level(logging.DEBUG, logger="layer_builder")

    index = IndexOptions(auth_index.url_with_credentials)
    out = install(PoetryInstaller(index=index), project, ARM312, tmp_path / "out")
    assert installed(out) == {"tinyhttp", "tinyutil"}
    assert "--without-urls" in caplog.text, "the given index replaces the lock's source"
    assert auth_index.password not in caplog.text
    for path in [*out.rglob("*"), *project.rglob("*")]:
        if path.is_file():
            assert auth_index.password.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    "pyproject",
    [
        '[project]\nname = "a"\nrequires-python = ">=3.10"\ndependencies = ["x>=1"]\n',
        '[tool.poetry]\nname = "a"\n[tool.poetry.dependencies]\npython = "^3.10"\nx = "^1"\n'
        '[tool.poetry.group.dev.dependencies]\npytest = "*"\n',
        '[project]\nname = "a"\ndependencies = ["x"]\n[project.optional-dependencies]\n'
        'y = ["z"]\n[dependency-groups]\ndev = ["pytest"]\n[tool.poetry]\npackage-mode = false\n'
        '[[tool.poetry.source]]\nname = "s"\nurl = "https://example.com/simple"\n',
        '[tool.poetry]\nname = "a"\n',
    ],
)
def test_content_hash_is_poetrys(pyproject: str, tmp_path: Path) -> None:
    from poetry.packages.locker import Locker

    from layer_builder.cli.config import tomllib

    data = tomllib.loads(pyproject)
    assert content_hash(data) == Locker(tmp_path / "poetry.lock", data)._get_content_hash()
