"""Finding the target's Python on this host: real interpreters, really run.

The machine these tests were written on has pyenv installs of 3.10, 3.12 and 3.13 beside the
running 3.11, and pyenv shims on PATH that exit 127 for the versions pyenv has not made
active. A test that needs an interpreter this host lacks is skipped, saying which.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from layer_builder.errors import ConfigurationError
from layer_builder.installers.host_pythons import (
    ENV_VARIABLE,
    HostPython,
    find_host_python,
    find_host_python_matching,
    running_python,
)
from layer_builder.installers.tools import find_uv

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"
MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}.get(
    platform.machine().lower(), platform.machine().lower()
)
OTHER_MACHINE = "aarch64" if MACHINE == "x86_64" else "x86_64"
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")

_SPAWNED: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "subprocess.Popen" and _SPAWNED is not None:
        _SPAWNED.append(str(args[0]))


sys.addaudithook(_audit)


@contextlib.contextmanager
def spawned() -> Iterator[list[str]]:
    """The programs started in the block."""
    global _SPAWNED
    started: list[str] = []
    _SPAWNED = started
    try:
        yield started
    finally:
        _SPAWNED = None


def _runs(path: Path) -> bool:
    try:
        return (
            subprocess.run([path, "-c", "pass"], capture_output=True, check=False).returncode == 0
        )
    except OSError:
        return False


def pyenv_python(version: str) -> Path:
    """pyenv's newest install of ``version`` that runs, or the test is skipped."""
    for path in sorted((PYENV_ROOT / "versions").glob(f"*/bin/python{version}"), reverse=True):
        if _runs(path):
            return path
    pytest.skip(f"needs a pyenv install of Python {version} under {PYENV_ROOT}")


def other_version() -> str:
    """A version other than the running one that pyenv has (3.12 preferred)."""
    for version in ("3.12", "3.13", "3.10", "3.14"):
        if version != RUNNING and list((PYENV_ROOT / "versions").glob(f"*/bin/python{version}")):
            return version
    pytest.skip(f"needs a pyenv install of a Python other than {RUNNING} under {PYENV_ROOT}")


@pytest.fixture(autouse=True)
def unrestricted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VARIABLE, raising=False)


def test_the_running_interpreter_comes_first_and_is_not_started() -> None:
    with spawned() as started:
        found = find_host_python(RUNNING, MACHINE)
    assert found == running_python()
    assert (found.path, found.origin) == (Path(sys.executable), "running")
    assert found.full_version == platform.python_version()
    assert found.describe() == f"python{RUNNING} at {sys.executable} (running)"
    assert started == [], "what runs this test needs no probe"


def test_finds_pyenvs_install_although_its_shim_on_path_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = other_version()
    real = pyenv_python(version)
    shim = PYENV_ROOT / "shims" / f"python{version}"
    if not shim.is_file():
        pytest.skip(f"needs pyenv's shim {shim}")
    bash = subprocess.run(["sh", "-c", "command -v bash"], capture_output=True, text=True)
    tools = str(Path(bash.stdout.strip()).parent)  # the shim runs under bash
    if list(Path(tools).glob(f"python{version}")):
        pytest.skip(f"{tools} holds a python{version} of its own")
    monkeypatch.setenv("PATH", f"{PYENV_ROOT / 'shims'}{os.pathsep}{tools}")
    monkeypatch.setenv(ENV_VARIABLE, "PATH")
    if find_host_python(version, MACHINE) is not None:
        pytest.skip(f"pyenv has made {version} active: its shim {shim} runs")
    # The shim is run, not judged by its name: under a path no earlier probe has seen.
    link = tmp_path / shim.name
    link.symlink_to(shim)
    monkeypatch.setenv(ENV_VARIABLE, str(link))
    with spawned() as started:
        assert find_host_python(version, MACHINE) is None
    assert started == [str(link)]
    monkeypatch.delenv(ENV_VARIABLE)
    found = find_host_python(version, MACHINE)
    assert found is not None
    assert (found.path, found.origin, found.version) == (real, "pyenv", version)
    assert found.full_version.startswith(f"{version}.")
    assert found.describe() == f"python{version} at {real} (pyenv)"


def test_probes_are_kept_for_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version = other_version()
    link = tmp_path / f"python{version}"
    link.symlink_to(pyenv_python(version))  # a path no earlier test has probed
    monkeypatch.setenv(ENV_VARIABLE, str(link))
    with spawned() as first:
        assert find_host_python(version, MACHINE) is not None
    with spawned() as again:
        found = find_host_python(version, MACHINE)
    assert (len(first), again) == (1, [])
    assert found == HostPython(link, version, MACHINE, ENV_VARIABLE, found.full_version)


def test_restricted_to_the_running_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    version = other_version()
    pyenv_python(version)  # there is one, but the search may not look
    monkeypatch.setenv(ENV_VARIABLE, "running")
    with spawned() as started:
        assert find_host_python(version, MACHINE) is None
        assert find_host_python(RUNNING, MACHINE) == running_python()
        assert find_host_python_matching(SpecifierSet(">=3")) == running_python()
    assert started == []
    monkeypatch.setenv(ENV_VARIABLE, "none")
    assert find_host_python(RUNNING, MACHINE) is None


def test_an_explicit_list_is_searched_in_its_order(monkeypatch: pytest.MonkeyPatch) -> None:
    newer, older = pyenv_python("3.13"), pyenv_python("3.12")
    monkeypatch.setenv(ENV_VARIABLE, f"{older}{os.pathsep}/bin/false{os.pathsep}{newer}")
    found = find_host_python("3.13", MACHINE)
    assert found is not None and (found.path, found.origin) == (newer, ENV_VARIABLE)
    assert find_host_python(RUNNING, MACHINE) is None, "the running one is not listed"
    best = find_host_python_matching(SpecifierSet(">=3.12"))
    assert best is not None and best.path == newer, "newest first"
    monkeypatch.setenv(ENV_VARIABLE, f"running{os.pathsep}{older}")
    assert find_host_python_matching(SpecifierSet(">=3.10")) == find_host_python("3.12", MACHINE)


def test_a_misspelt_entry_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VARIABLE, f"running{os.pathsep}pyenvv")
    with pytest.raises(ConfigurationError) as caught:
        find_host_python("3.12", MACHINE)
    assert str(caught.value) == (
        f"{ENV_VARIABLE}: 'pyenvv' is neither a source (running, PATH, pyenv, uv, none) nor an "
        "absolute path to a Python: fix the variable or unset it"
    )


def test_no_interpreter_of_a_version_or_cpu_gives_none() -> None:
    assert find_host_python("3.99", MACHINE) is None
    assert find_host_python(RUNNING, OTHER_MACHINE) is None
    assert find_host_python_matching(SpecifierSet(">=3.99")) is None
    assert find_host_python_matching(SpecifierSet(f"=={RUNNING}.*"), OTHER_MACHINE) is None


def test_the_specifier_form_takes_the_newest_that_satisfies() -> None:
    version = other_version()
    wanted = find_host_python(version, MACHINE)
    assert wanted is not None
    exactly = find_host_python_matching(SpecifierSet(f"=={version}.*"), MACHINE)
    assert exactly == wanted
    newest = find_host_python_matching(SpecifierSet(">=3.10"))
    assert newest is not None and SpecifierSet(">=3.10").contains(newest.full_version)
    for path in (PYENV_ROOT / "versions").glob("*/bin/python3.1[0-9]"):
        minor = int(path.name.split(".")[1])
        if _runs(path):
            assert minor <= int(newest.version.split(".")[1]), f"{path} is newer than {newest}"
    # A patch level beyond every install of that version.
    beyond = f">{wanted.full_version},<{version}.999"
    later = find_host_python_matching(SpecifierSet(beyond))
    assert later is None or later.full_version != wanted.full_version


def test_uv_managed_installs_are_found_never_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if find_uv() is None:
        pytest.skip("needs uv")
    real = pyenv_python("3.12")
    # uv's install folder, laid out as uv lays it out, its executables linked to a real 3.12.
    bin_dir = tmp_path / "cpython-3.12.1-linux-x86_64-gnu" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "python3", "python3.12"):
        (bin_dir / name).symlink_to(real)
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path))
    monkeypatch.setenv(ENV_VARIABLE, "uv")
    found = find_host_python("3.12", "x86_64")
    if found is None and MACHINE == "x86_64":
        pytest.skip("this uv does not take a linked install as a managed one")
    assert found is not None and found.origin == "uv"
    assert found.path.parent == bin_dir and found.version == "3.12"
    assert find_host_python_matching(SpecifierSet(">=3.11")) == found
    assert find_host_python("3.13", "x86_64") is None, "nothing downloaded"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpython-3.12.1-linux-x86_64-gnu"]
