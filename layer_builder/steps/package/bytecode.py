"""Optional precompiled bytecode for the layer, reproducible.

Lambda's file system under ``/opt`` is read-only, so a layer without ``.pyc`` files compiles
every module on every cold start. Packaging can add them, compiled by the target's Python
version (bytecode is specific to it): the running interpreter when it is that version, else
one found on the host (``installers.host_pythons``: PATH, pyenv, uv-managed installs):

- ``unchecked-hash`` pycs (PEP 552): no source timestamp inside, and never rechecked against
  the source, which cannot change in a layer;
- compiled in child interpreters with ``PYTHONHASHSEED=0``, since the order of frozenset
  constants in a code object follows string hashes;
- ``co_filename`` is the module's path on Lambda (``/opt/python/...``), not the build tree's.

Compiled files are kept in a cache next to the zip, keyed by the module's path and content,
so an unchanged module is not compiled again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from packaging.specifiers import SpecifierSet

from layer_builder.archive.safe_files import finish, open_member, remove_entry
from layer_builder.errors import ConfigurationError, PackageError
from layer_builder.installers.host_pythons import (
    HostPython,
    find_host_python_matching,
    install_hint,
    searched,
)
from layer_builder.model.target import LayerTarget
from layer_builder.steps.package.children import ChildJob, run_children

logger = logging.getLogger(__name__)

#: Where Lambda puts a layer's ``python/`` folder.
LAYER_PATH = "/opt/python"

_SCRIPT = """
import json, py_compile, sys
failed = []
for source, cfile, dfile in json.loads(sys.stdin.read()):
    try:
        py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError as exc:
        failed.append([source, str(exc).strip().splitlines()[-1:]])
print(json.dumps(failed))
"""


def cache_tag(interpreter: HostPython | None = None) -> str:
    """``cpython-312``: the tag in the names of the pycs ``interpreter`` (a CPython; default:
    this one) writes."""
    if interpreter is not None:
        return "cpython-" + interpreter.version.replace(".", "")
    tag = sys.implementation.cache_tag
    if tag is None:  # pragma: no cover - only interpreters that cannot import from pycs
        raise ConfigurationError("this Python writes no bytecode: compile_bytecode is not possible")
    return tag


def bytecode_interpreter(target: LayerTarget) -> HostPython:
    """The target's Python version on this host, any CPU (bytecode is specific to a minor
    version only), to compile with; refused with the fix when there is none."""
    version = target.python_version
    found = find_host_python_matching(SpecifierSet(f"=={version}.*"))
    if found is None:
        raise ConfigurationError(
            f"--compile-bytecode needs Python {version} to compile for {target.runtime}, and "
            f"this host has none (searched {searched()}): install it with "
            f"{install_hint(version)}, or package without --compile-bytecode"
        )
    return found


def _pyc_name(relative: str, tag: str) -> str:
    path = PurePosixPath(relative)
    return str(path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc")


def _failed_modules(outcome: subprocess.CompletedProcess[str]) -> list[list[object]]:
    try:
        failed: list[list[object]] = json.loads(outcome.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise PackageError(
            f"compiling bytecode failed (exit code {outcome.returncode}): "
            f"{outcome.stderr.strip()[-500:]}; package without --compile-bytecode"
        ) from None
    return failed


def _is_regular(path: Path) -> bool:
    """A regular file, not a link (a cached pyc must be ours, not a pointer elsewhere)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def compile_bytecode(
    modules: Mapping[str, Path],
    cache_dir: Path,
    workers: int,
    interpreter: HostPython | None = None,
) -> dict[str, tuple[str, Path]]:
    """Compile the ``*.py`` among ``{relative path: file}`` with ``interpreter`` (default:
    this one); returns ``{relative pyc path: (relative source path, compiled file)}``.
    Modules that do not compile are left out.

    Interrupted (Ctrl-C, SIGTERM), the compiling children are killed and what they had not
    finished writing is removed: the cache only ever holds complete pycs."""
    tag = cache_tag(interpreter)
    wanted: dict[str, tuple[str, Path]] = {}
    jobs = []
    for relative, path in modules.items():
        if not relative.endswith(".py") or relative.split("/")[0].endswith(".dist-info"):
            continue
        with open_member(path) as source:
            content = source.read()
        key = hashlib.sha256(f"{tag}\0{relative}\0".encode() + content).hexdigest()
        compiled = cache_dir / key[:2] / f"{key}.pyc"
        wanted[_pyc_name(relative, tag)] = (relative, compiled)
        if not _is_regular(compiled):
            jobs.append((str(path), str(compiled), f"{LAYER_PATH}/{relative}"))
    if jobs:
        # Not -I: it would ignore PYTHONHASHSEED. Without the other PYTHON* variables, which
        # were meant for the running interpreter (PYTHONHOME, PYTHONPATH), not another one.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONHASHSEED"] = "0"
        executable = sys.executable if interpreter is None else str(interpreter.path)
        command = [executable, "-S", "-c", _SCRIPT]
        children = [
            ChildJob(command, json.dumps(jobs[i::workers]), env)
            for i in range(workers)
            if jobs[i::workers]
        ]
        try:
            outcomes = run_children(children, workers)
        except BaseException:
            remove_unfinished(cache_dir)  # the killed compilers' temporary files
            raise
        results = [_failed_modules(outcome) for outcome in outcomes]
        failed = [f for result in results for f in result]
        if failed:
            logger.info("%d modules do not compile for Python %s; kept as source only: %s",
                        len(failed), tag, ", ".join(str(f[0]) for f in failed[:5]))  # fmt: skip
    _prune(cache_dir, {compiled for _, compiled in wanted.values()})
    return {name: pair for name, pair in wanted.items() if _is_regular(pair[1])}


def remove_unfinished(cache_dir: Path) -> None:
    """Delete from the cache what a killed compile left (py_compile's temporary
    ``<key>.pyc.<n>`` files) and any link (the cache is only ever written by us); a cache
    that is itself a link or a file is removed."""
    finish(lambda: _remove_unfinished(cache_dir))


def _remove_unfinished(cache_dir: Path) -> None:
    try:
        st = os.lstat(cache_dir)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        remove_entry(cache_dir)
        return
    for entry in os.scandir(cache_dir):
        if not entry.is_dir(follow_symlinks=False):
            remove_entry(Path(entry.path))
            continue
        for inner in os.scandir(entry.path):
            if not inner.name.endswith(".pyc") or inner.is_symlink():
                remove_entry(Path(inner.path))


def _prune(cache_dir: Path, keep: set[Path]) -> None:
    """Drop cached pycs of modules no longer in the layer, so the cache does not grow."""
    if not cache_dir.is_dir():
        return
    for path in cache_dir.glob("*/*.pyc"):
        if path not in keep:
            path.unlink(missing_ok=True)
    for folder in cache_dir.iterdir():
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
