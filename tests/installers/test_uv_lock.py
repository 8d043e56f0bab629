"""A uv.lock above the host's Python: exported without an interpreter of its range, checked
against pyproject.toml without uv, refused for a target outside its range."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest
from layer_builder.errors import PythonRangeError, StaleLockError
from layer_builder.installers import UvInstaller
from layer_builder.installers.host_pythons import find_host_python
from layer_builder.installers.uv_lock import lock_mismatch, read_toml
from tests.conftest import WheelIndex
from tests.installers.projects import write_uv_project

X86_312 = LayerTarget("3.12", "x86_64")


@pytest.fixture(scope="module")
def project_above_host(tmp_path_factory: pytest.TempPathFactory, wheel_index: WheelIndex) -> Path:
    """requires-python >= 3.12, locked by a 3.12 of this host (uv lock needs one)."""
    python = find_host_python("3.12", "x86_64")
    if python is None:
        pytest.skip("no python3.12 on this host to lock a >=3.12 project with")
    return write_uv_project(
        tmp_path_factory.mktemp("uv-above") / "app",
        wheel_index.url,
        ["tinyhttp"],
        dev=["tiny-yaml"],
        requires_python=">=3.12",
        python=str(python.path),
    )


@pytest.fixture
def only_the_running_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host whose only Python is the tool's own (3.11 here): no interpreter of the range."""
    from layer_builder.installers import host_pythons

    monkeypatch.setenv(host_pythons.ENV_VARIABLE, "running")
    host_pythons_cache_clear = getattr(host_pythons, "clear_cache", None)
    if host_pythons_cache_clear is not None:
        host_pythons_cache_clear()


def _copy(project: Path, destination: Path) -> Path:
    destination.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        (destination / name).write_bytes((project / name).read_bytes())
    return destination


def test_a_lock_above_the_hosts_python_installs(
    project_above_host: Path,
    tmp_path: Path,
    only_the_running_python: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = _copy(project_above_host, tmp_path / "app")
    caplog.set_level(logging.INFO, logger="layer_builder")
    out = tmp_path / "out"
    out.mkdir()
    UvInstaller().install(Manifest.from_project(project), X86_312, out)
    assert {p.name.split("-")[0] for p in out.glob("*.dist-info")} == {"tinyhttp", "tinyutil"}
    assert "without uv (uv's own check needs a Python >=3.12, which this host lacks)" in (
        caplog.text
    )


def test_a_stale_lock_is_caught_without_uvs_check(
    project_above_host: Path, tmp_path: Path, only_the_running_python: None
) -> None:
    project = _copy(project_above_host, tmp_path / "app")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('["tinyhttp"]', '["tinyhttp", "fastcalc"]'))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(StaleLockError) as stale:
        UvInstaller().install(Manifest.from_project(project), X86_312, out)
    assert str(stale.value) == (
        f"{project / 'uv.lock'} is out of date with {pyproject} (dependency fastcalc is not in "
        f"the lock): run `uv lock` in {project} and commit the new lock"
    )
    assert not any(out.iterdir())


def test_a_target_below_the_range_is_refused(project_above_host: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(PythonRangeError) as refused:
        UvInstaller().install(
            Manifest.from_project(project_above_host), LayerTarget("3.11", "arm64"), out
        )
    assert str(refused.value) == (
        f"{project_above_host / 'uv.lock'} is for Python >=3.12 (requires-python in uv.lock), "
        "which python3.11 is not: build for python3.12, python3.13, python3.14 (e.g. --python "
        "3.12), or widen the project's Python range and lock again"
    )


LOCK_ROOT = """
requires-python = ">=3.10"

[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }

[package.metadata]
requires-dist = [
    { name = "idna", extras = ["all"], specifier = "<4" },
    { name = "six", specifier = ">=1.16" },
    { name = "attrs", marker = "extra == 'x'" },
]

[package.metadata.requires-dev]
dev = [{ name = "iniconfig" }, { name = "packaging" }]
lint = [{ name = "packaging" }]
"""

PYPROJECT = """
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["six>=1.16", "idna[all]<4; python_version >= '3.8'"]
[project.optional-dependencies]
x = ["attrs"]
[dependency-groups]
lint = ["packaging"]
dev = [{include-group = "lint"}, "iniconfig"]
"""


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("", ""), None),
        (("six>=1.16", "six>=1.15"), "dependency six>=1.15 is not in the lock; the lock's "
         "dependency six>=1.16 is no longer declared"),
        (('x = ["attrs"]', 'x = ["attrs", "click"]'), "dependency click is not in the lock"),
        (('"iniconfig"', '"iniconfig", "pytest"'), "'dev' group member pytest is not in the lock"),
        ((">=3.10", ">=3.11"), "requires-python is >=3.11, the lock's >=3.10"),
        (('version = "0.1.0"', 'version = "0.2.0"'),
         "the project's version is 0.2.0, the lock's 0.1.0"),
        (('version = "0.1.0"', 'version = "0.1"'), None),
    ],
)  # fmt: skip
def test_lock_mismatch_names_what_changed(change: tuple[str, str], why: str | None) -> None:
    pyproject = PYPROJECT.replace(*change, 1) if change[0] else PYPROJECT
    assert lock_mismatch(read_toml(LOCK_ROOT.encode()), read_toml(pyproject.encode())) == why


def test_lock_mismatch_leaves_workspaces_to_uv() -> None:
    lock = LOCK_ROOT + '\n[manifest]\nmembers = ["app", "lib"]\n'
    assert lock_mismatch(read_toml(lock.encode()), read_toml(b"[project]\nname='app'\n")) is None
