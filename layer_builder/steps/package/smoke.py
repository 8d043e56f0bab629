"""The import smoke test that guards a slimmed layer.

When the host runs the target's Python on the target's CPU, every top-level package of the
layer is imported twice in an isolated interpreter: from the build tree, and from the zip as
written. A package that imports from the tree but not from the zip was broken by slimming.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from layer_builder.archive.reuse import sidecar_path
from layer_builder.archive.safe_files import PARTIAL_SUFFIX
from layer_builder.errors import PackageError
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.model.target import LayerTarget
from layer_builder.steps.package.children import ChildJob, run_children

_SCRIPT = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
failed = {}
for name in json.loads(sys.argv[2]):
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = (type(exc).__name__ + ": " + str(exc))[:300]
print(json.dumps(failed))
"""


def smoke_test_applies(target: LayerTarget) -> bool:
    """Whether this interpreter can import the target's extension modules."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower())
    return (
        sys.platform == "linux"
        and sys.version_info[:2] == target.python_tuple
        and (machine or platform.machine()) == target.machine
    )


def _top_level_from_record(files: Iterable[str]) -> set[str]:
    names = set()
    for relative in files:
        first = PurePosixPath(relative).parts[0]
        if first.endswith(".py"):
            first = first[:-3]
        elif first.endswith(".so"):
            first = first.split(".", 1)[0]
        elif len(PurePosixPath(relative).parts) == 1:
            continue
        if first.isidentifier() and first != "__pycache__":
            names.add(first)
    return names


def top_level_names(distributions: Iterable[InstalledDistribution], root: Path) -> list[str]:
    """The importable top-level names the distributions install (``top_level.txt`` or RECORD)."""
    names: set[str] = set()
    for dist in distributions:
        top_level = root / dist.dist_info / "top_level.txt"
        if top_level.is_file():
            listed = top_level.read_text(encoding="utf-8").split()
            names.update(n for n in listed if n.isidentifier())
        else:
            names.update(_top_level_from_record(dist.files))
    return sorted(names)


def _failures(path: Path, names: list[str]) -> dict[str, str]:
    # -B: the test never writes into the tree it reads (no __pycache__ folders).
    command = [sys.executable, "-I", "-S", "-B", "-c", _SCRIPT, str(path), json.dumps(names)]
    (process,) = run_children([ChildJob(command, timeout=600)], 1)
    try:
        result: dict[str, str] = json.loads(process.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise PackageError(
            f"the import smoke test could not run (exit code {process.returncode}): "
            f"{process.stderr.strip()[-500:]}; package with smoke_test=False to skip it"
        ) from None
    return result


def import_smoke_test(
    root: Path, path_zip: Path, distributions: Iterable[InstalledDistribution]
) -> None:
    """Raise ``PackageError`` (and remove the zip) when an import that works from ``root``
    fails from ``path_zip``."""
    names = top_level_names(distributions, root)
    if not names:
        return
    before = _failures(root, names)
    # Beside the zip and named like its partial files, so that a run killed before it could
    # clean up leaves nothing the next run would not remove.
    prefix = f"{path_zip.name}.{os.getpid()}-smoke-"
    with tempfile.TemporaryDirectory(PARTIAL_SUFFIX, prefix, path_zip.parent) as extracted:
        with zipfile.ZipFile(path_zip) as zf:
            zf.extractall(extracted)
        after = _failures(Path(extracted) / "python", names)
    broken = {name: error for name, error in after.items() if name not in before}
    if broken:
        path_zip.unlink(missing_ok=True)
        sidecar_path(path_zip).unlink(missing_ok=True)
        details = "; ".join(f"import {name}: {error}" for name, error in sorted(broken.items()))
        raise PackageError(
            f"slimming broke imports that work from {root} ({details}); {path_zip} was "
            f"removed: package without --slim/--strip, or exclude the package from slimming"
        )
