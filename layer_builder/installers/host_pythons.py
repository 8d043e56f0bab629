"""The CPython interpreters on this host, found by version and CPU, each one really run.

Packaging needs the target's Python to import a slimmed layer (the smoke test) and to
compile its bytecode, and the host may have it even when layer-builder runs under another
version. Where it looks, in this order:

``running``
   the interpreter layer-builder runs under (no process started for it);
``PATH``
   every ``python3.X`` on ``PATH``, in ``PATH`` order (but not in pyenv's shims folder when
   pyenv is searched too: a shim of a version pyenv has not made active exits 127);
``pyenv``
   ``$PYENV_ROOT/versions/*/bin/python3.X`` (``~/.pyenv`` by default), newest first;
``uv``
   uv-managed installs, through ``uv python find --managed-python --no-python-downloads``:
   found, never downloaded.

A candidate counts only once it has run: a probe (``-I -S``) prints its implementation,
version and CPU, so a shim that fails, a Python 2 or a PyPy is passed over. Probes and uv's
answers are kept for the life of the process (a probe costs 20-50 ms, a failing pyenv shim
about 150 ms).

``LAYER_BUILDER_HOST_PYTHONS`` narrows the search (tests, locked-down CI): entries separated
by ``os.pathsep``, each a source name above or an absolute path to an interpreter, searched
in the order given; ``none`` (or any value naming nothing) finds nothing. Unset or empty:
``running``, ``PATH``, ``pyenv``, ``uv``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from layer_builder.errors import ConfigurationError
from layer_builder.installers.tools import find_uv

logger = logging.getLogger(__name__)

#: The variable that narrows the search (see the module's docstring).
ENV_VARIABLE = "LAYER_BUILDER_HOST_PYTHONS"
#: Where interpreters are looked for, in the default order.
SOURCES = ("running", "PATH", "pyenv", "uv")
_PROBE_TIMEOUT = 20.0
_PROBE = (
    "import json, platform, sys; print(json.dumps([sys.implementation.name, "
    "list(sys.version_info[:3]), platform.machine()]))"
)
_NAME = re.compile(r"python3\.(\d+)(?:\.exe)?")
_MACHINES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def _machine(name: str) -> str:
    return _MACHINES.get(name.lower(), name.lower())


@attrs.frozen
class HostPython:
    """A CPython interpreter on this host that ran when probed."""

    #: An executable that really runs.
    path: Path
    #: Its minor version, ``3.12``.
    version: str
    #: Its CPU as wheel tags name it: ``x86_64`` or ``aarch64``.
    machine: str
    #: Where it was found: ``running``, ``PATH``, ``pyenv``, ``uv``, or ``ENV_VARIABLE``
    #: for one listed there by path.
    origin: str
    #: Its full version, ``3.12.1``.
    full_version: str = ""

    def describe(self) -> str:
        """``python3.12 at /root/.pyenv/versions/3.12.1/bin/python3.12 (pyenv)``."""
        return f"python{self.version} at {self.path} ({self.origin})"


def running_python() -> HostPython:
    """The interpreter this process runs under."""
    major, minor, micro = sys.version_info[:3]
    return HostPython(
        Path(sys.executable),
        f"{major}.{minor}",
        _machine(platform.machine()),
        "running",
        f"{major}.{minor}.{micro}",
    )


def find_host_python(version: str, machine: str) -> HostPython | None:
    """A CPython ``version`` (``3.12``) for ``machine`` (``x86_64``, ``aarch64``) on this
    host: the running interpreter if it fits, else the first that runs from ``PATH``, pyenv
    and uv-managed installs (never a download), as ``LAYER_BUILDER_HOST_PYTHONS`` allows."""
    return next(_interpreters(version, _machine(machine)), None)


def find_host_python_matching(
    specifier: SpecifierSet, machine: str | None = None
) -> HostPython | None:
    """Any CPython on this host whose full version satisfies ``specifier``, newest first
    (for ``machine``, or any CPU when None)."""
    wanted = None if machine is None else _machine(machine)
    for minor in sorted(_minors(specifier), reverse=True):
        for host in _interpreters(f"3.{minor}", wanted):
            if specifier.contains(host.full_version):
                return host
    return None


def searched() -> str:
    """Where the search looks, for messages: ``LAYER_BUILDER_HOST_PYTHONS=running`` when
    the variable narrows it."""
    value = os.environ.get(ENV_VARIABLE, "").strip()
    if value:
        return f"{ENV_VARIABLE}={value}"
    return "the running interpreter, PATH, pyenv and uv-managed Pythons"


def install_hint(version: str) -> str:
    """How to get a Python ``version`` onto this host."""
    return f"`uv python install {version}` (or `pyenv install {version}`)"


def _search_order() -> list[str | Path]:
    """The sources and listed interpreters to search, in order."""
    value = os.environ.get(ENV_VARIABLE, "").strip()
    if not value:
        return list(SOURCES)
    by_name = {source.lower(): source for source in SOURCES}
    order: list[str | Path] = []
    for entry in (e.strip() for e in value.split(os.pathsep)):
        if not entry or entry.lower() == "none":
            continue
        if entry.lower() in by_name:
            order.append(by_name[entry.lower()])
        elif os.path.isabs(entry):
            order.append(Path(entry))
        else:
            raise ConfigurationError(
                f"{ENV_VARIABLE}: {entry!r} is neither a source ({', '.join(SOURCES)}, none) "
                f"nor an absolute path to a Python: fix the variable or unset it"
            )
    return order


def _interpreters(version: str, machine: str | None) -> Iterator[HostPython]:
    """Every interpreter of ``version`` that runs (on ``machine``, or any), in search order."""
    order = _search_order()
    seen: set[str] = set()
    for entry in order:
        for origin, path in _candidates(entry, version, skip_pyenv_shims="pyenv" in order):
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            host = _probe(path, origin)
            if host is None or host.version != version:
                continue
            if machine is None or host.machine == machine:
                yield host


def _candidates(
    entry: str | Path, version: str, *, skip_pyenv_shims: bool
) -> Iterator[tuple[str, Path]]:
    """What ``entry`` offers for ``version``: (origin, path), not yet run."""
    if isinstance(entry, Path):
        yield ENV_VARIABLE, entry
    elif entry == "running":
        if sys.executable and running_python().version == version:
            yield "running", Path(sys.executable)
    elif entry == "PATH":
        for folder in _path_folders(skip_pyenv_shims):
            named = shutil.which(f"python{version}", path=str(folder))
            if named:
                yield "PATH", Path(named)
    elif entry == "pyenv":
        for _, path in _pyenv_pythons(version):
            yield "pyenv", path
    elif entry == "uv":
        managed = _uv_find(version)
        if managed is not None:
            yield "uv", managed


def _minors(specifier: SpecifierSet) -> set[int]:
    """The minor versions some interpreter here may have (named ``python3.X`` on PATH or in
    pyenv, running, listed, or uv's newest match) whose series can satisfy ``specifier``."""
    minors: set[int] = set()
    order = _search_order()
    for entry in order:
        if isinstance(entry, Path):
            host = _probe(entry, ENV_VARIABLE)
            if host is not None:
                minors.add(int(host.version.split(".")[1]))
        elif entry == "running":
            minors.add(sys.version_info[1])
        elif entry == "PATH":
            for folder in _path_folders(skip_pyenv_shims="pyenv" in order):
                minors.update(_named_minors(folder))
        elif entry == "pyenv":
            for bin_dir in (_pyenv_root() / "versions").glob("*/bin"):
                minors.update(_named_minors(bin_dir))
        elif entry == "uv":
            found = _uv_find(str(specifier) or ">=3")
            host = _probe(found, "uv") if found is not None else None
            if host is not None:
                minors.add(int(host.version.split(".")[1]))
    return {m for m in minors if _series_may_match(m, specifier)}


def _series_may_match(minor: int, specifier: SpecifierSet) -> bool:
    """Whether some release of 3.``minor`` satisfies ``specifier``."""
    if any(specifier.contains(f"3.{minor}.{micro}") for micro in (0, 50)):
        return True
    # Only a specifier that names patch levels of 3.X can take some of them and not these.
    return f"3.{minor}." in str(specifier) and any(
        specifier.contains(f"3.{minor}.{micro}") for micro in range(50)
    )


def _named_minors(folder: Path) -> set[int]:
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    return {int(m[1]) for m in map(_NAME.fullmatch, names) if m}


def _path_folders(skip_pyenv_shims: bool) -> list[Path]:
    """``PATH``'s folders; without pyenv's shims when pyenv's installs are searched anyway
    (a shim runs only the versions pyenv has made active, and takes ~150 ms to fail)."""
    shims = _pyenv_root() / "shims" if skip_pyenv_shims else None
    return [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != shims]


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _pyenv_pythons(version: str) -> list[tuple[Version, Path]]:
    """pyenv's ``python<version>`` executables, newest install first."""
    found = []
    for path in (_pyenv_root() / "versions").glob(f"*/bin/python{version}"):
        try:
            installed = Version(path.parent.parent.name)
        except InvalidVersion:  # a named virtualenv, a conda: after the numbered installs
            installed = Version("0")
        found.append((installed, path))
    return sorted(found, key=lambda pair: (pair[0], str(pair[1])), reverse=True)


_lock = threading.Lock()
_probes: dict[str, HostPython | None] = {}
_uv_answers: dict[tuple[str, ...], Path | None] = {}


def _probe(path: Path, origin: str) -> HostPython | None:
    """The interpreter at ``path`` as it reports itself once run, or None when it does not
    run or is not CPython 3; kept for the process."""
    if origin == "running":
        return running_python()
    with _lock:  # one probe per interpreter, whatever the threads asking
        if str(path) not in _probes:
            _probes[str(path)] = _run_probe(path)
        host = _probes[str(path)]
    return None if host is None else attrs.evolve(host, origin=origin)


def _run_probe(path: Path) -> HostPython | None:
    # A probe lives for milliseconds: run here rather than through the package step's
    # children, and a child lost to a signal landing inside Popen ends on its own.
    try:
        process = subprocess.run(
            [str(path), "-I", "-S", "-c", _PROBE],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=_PROBE_TIMEOUT, check=False,
        )  # fmt: skip
        implementation, (major, minor, micro), machine = json.loads(process.stdout)
    except (OSError, subprocess.SubprocessError, ValueError, TypeError):
        logger.debug("%s does not run as a Python", path)
        return None
    if process.returncode != 0 or implementation != "cpython" or major != 3:
        logger.debug("%s is not a CPython 3 (%s, exit code %d)", path, implementation,
                     process.returncode)  # fmt: skip
        return None
    host = HostPython(path, f"3.{minor}", _machine(machine), "probed", f"3.{minor}.{micro}")
    logger.debug("%s runs: CPython %s on %s", path, host.full_version, host.machine)
    return host


def _uv_find(request: str) -> Path | None:
    """uv's managed interpreter for ``request`` (a version or a specifier), if any."""
    uv = find_uv()
    if uv is None:
        return None
    # What tells uv where its installs are, and which it may answer with.
    settings = sorted(
        (k, v)
        for k, v in os.environ.items()
        if k.startswith("UV_PYTHON") or k in ("UV_MANAGED_PYTHON", "XDG_DATA_HOME")
    )
    key = (uv, request, *(f"{k}={v}" for k, v in settings))
    with _lock:
        if key not in _uv_answers:
            _uv_answers[key] = _run_uv_find(uv, request)
        return _uv_answers[key]


def _run_uv_find(uv: str, request: str) -> Path | None:
    command = [uv, "python", "find", "--managed-python", "--no-python-downloads",
               "--no-project", "--no-config", request]  # fmt: skip
    try:
        process = subprocess.run(
            command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=_PROBE_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    lines = process.stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        logger.debug("uv finds no managed Python %s: %s", request, process.stderr.strip()[-200:])
        return None
    return Path(lines[-1])
