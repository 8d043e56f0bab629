"""The import smoke test that guards a slimmed layer.

When the host has the target's Python for the target's CPU (the running interpreter, or one
found on PATH, in pyenv or among uv's installs: ``installers.host_pythons``), every top-level
package of the layer is imported in one isolated interpreter of it (``-I -S -B``: no site, no
bytecode written) from a view of the zip: a scratch folder beside it holding exactly the
zip's members, as hard links to the files they were written from (a copy where links are
refused), and extracted from the zip where the member is not such a file as it is (a
stripped shared object). It
reads as Lambda's ``/opt/python`` does, without unzipping hundreds of megabytes, and nothing
is written into the tree. Only when an import fails is the same list imported again, from a
view of the layer before slimming (the tree without the excluded distributions): a package
that imports there but not from the layer was broken by slimming.

The test starts as soon as the writer knows it writes a new zip and runs while the zip is
written (``SmokeTest.start``). Its verdict is kept beside the zip (``layer.zip.smoke.json``)
for the zip's sha256 and the interpreter that imported: a zip that did not change is not
tested again by the same interpreter.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import attrs

from layer_builder.archive.reuse import sidecar_path
from layer_builder.archive.safe_files import (
    make_partial_dir,
    remove_entry,
    write_replacing,
)
from layer_builder.errors import PackageError
from layer_builder.installers.host_pythons import (
    HostPython,
    find_host_python,
    install_hint,
    running_python,
    searched,
)
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.model.target import LayerTarget
from layer_builder.steps.package.children import ChildJob, Children, wait_for

logger = logging.getLogger(__name__)

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

#: Version of the ``layer.zip.smoke.json`` document.
VERDICT_FORMAT = 1


def smoke_interpreter(target: LayerTarget) -> HostPython | None:
    """An interpreter on this host that can import the target's extension modules: the
    target's Python version for its CPU, on Linux."""
    if sys.platform != "linux":
        return None
    return find_host_python(target.python_version, target.machine)


def smoke_test_applies(target: LayerTarget) -> bool:
    """Whether this host has an interpreter that can import the target's extension modules."""
    return smoke_interpreter(target) is not None


def no_interpreter(target: LayerTarget) -> tuple[int, str]:
    """The log level and the line that say why a layer for ``target`` is not smoke tested
    (no interpreter for it) and how to get one."""
    what = f"no import smoke test: no Python {target.python_version}"
    if sys.platform != "linux":
        return logging.INFO, (
            f"{what} for Linux here, and {target.runtime} {target.architecture} loads Linux "
            f"extension modules: package on Linux to test the slimmed layer"
        )
    host = running_python().machine
    if host != target.machine:
        return logging.INFO, (
            f"{what} for {target.machine} on this {host} host (searched {searched()}): "
            f"package on an {target.architecture} machine to test the slimmed "
            f"{target.runtime} {target.architecture} layer"
        )
    return logging.WARNING, (
        f"{what} on this host to import the slimmed {target.runtime} {target.architecture} "
        f"layer (searched {searched()}): install it with {install_hint(target.python_version)} "
        f"to have it tested"
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


def top_level_names(
    distributions: Iterable[InstalledDistribution],
    root: Path,
    present: Iterable[str] | None = None,
) -> list[str]:
    """The importable top-level names the distributions install (``top_level.txt`` or
    RECORD) and the layer holds: the entries of ``present`` (the layer's top-level names,
    e.g. without a top-level ``tests`` package that ``--slim`` leaves out), else of ``root``
    (a RECORD also lists scripts in ``bin/``, which the build leaves out)."""
    names: set[str] = set()
    for dist in distributions:
        top_level = root / dist.dist_info / "top_level.txt"
        if top_level.is_file():
            listed = top_level.read_text(encoding="utf-8").split()
            names.update(n for n in listed if n.isidentifier())
        else:
            names.update(_top_level_from_record(dist.files))
    if present is None:
        present = os.listdir(root) if root.is_dir() else []
    return sorted(names & {entry.split(".", 1)[0] for entry in present})


def verdict_path(path_zip: Path) -> Path:
    """Where the verdict on ``path_zip`` is kept."""
    return path_zip.with_name(path_zip.name + ".smoke.json")


def interpreter_id(interpreter: HostPython) -> str:
    """What a verdict holds for: the interpreter that imported (its path, version and CPU)."""
    return f"CPython {interpreter.full_version} {interpreter.machine} at {interpreter.path}"


@attrs.frozen
class SmokeVerdict:
    """A zip that passed: its sha256, the interpreter and the names imported."""

    zip_sha256: str
    interpreter: str
    names: tuple[str, ...]
    #: Imports that failed before slimming too (not slimming's doing), with their errors.
    failing_before: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def load(cls, path_zip: Path) -> SmokeVerdict | None:
        """The verdict kept beside ``path_zip``, if any can be read."""
        try:
            document = json.loads(verdict_path(path_zip).read_text(encoding="utf-8"))
            if document.get("format") != VERDICT_FORMAT:
                return None
            return cls(
                str(document["zip_sha256"]),
                str(document["interpreter"]),
                tuple(document["names"]),
                dict(document["failing_before"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def holds_for(self, other: SmokeVerdict) -> bool:
        """Whether this verdict answers for ``other`` (same zip, interpreter and names)."""
        return (self.zip_sha256, self.interpreter, self.names) == (
            other.zip_sha256,
            other.interpreter,
            other.names,
        )

    def save(self, path_zip: Path) -> None:
        """Keep this verdict beside ``path_zip`` (swapped in whole)."""
        document = {"format": VERDICT_FORMAT, **attrs.asdict(self)}
        write_replacing(verdict_path(path_zip), json.dumps(document, indent=1).encode())


@attrs.frozen
class SmokeOutcome:
    """How the test ended for a zip: ``passed``, or ``reused`` (its verdict from an earlier
    run on the same zip); its wall time, the part of it after the zip was written, and the
    interpreter that imported (``HostPython.describe()``)."""

    status: str
    seconds: float = 0.0
    wait_seconds: float = 0.0
    interpreter: str = ""


def _since(*moments: float) -> list[float]:
    now = time.perf_counter()
    return [now - moment for moment in moments]


def make_view(where: Path, files: Mapping[str, Path | None], path_zip: Path) -> Path:
    """Fill the empty folder ``where`` with ``files`` (name in the zip -> the file it was
    written from as it is, or None: extract it from ``path_zip``); returns ``where``."""
    made: set[Path] = {where}
    link = True
    extract = []
    for name, source in files.items():
        target = where / name
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if source is None:
            extract.append((name, target))
            continue
        if link:
            try:
                os.link(source, target)
                continue
            except OSError:  # another file system, or links refused: a copy reads the same
                link = False
        shutil.copyfile(source, target)
    if extract:
        with zipfile.ZipFile(path_zip) as zf:
            for name, target in extract:
                with zf.open(name) as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    return where


class SmokeTest:
    """The test of one zip being written: ``start()`` while it is written, ``finish()`` once
    it is (with the zip's sha256), ``close()`` always (it stops an interpreter still
    running and removes the views).

    ``layer`` names each member of the zip (``python/yaml/__init__.py``) and the file it was
    written from as it is, or None when it must be read from the zip; ``unslimmed`` does the
    same for the layer before slimming. ``interpreter`` imports (default: the running one).
    """

    def __init__(
        self,
        root: Path,
        path_zip: Path,
        layer: Mapping[str, Path | None],
        unslimmed: Mapping[str, Path],
        names: Sequence[str],
        interpreter: HostPython | None = None,
    ):
        self.root = root
        self.path_zip = path_zip
        self.layer = layer
        self.unslimmed = unslimmed
        self.names = tuple(names)
        self.interpreter = interpreter or running_python()
        self._children = Children()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="layer-smoke")
        self._running: Future[dict[str, str]] | None = None
        self._started_at = 0.0
        self._views: list[Path] = []

    def __enter__(self) -> SmokeTest:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        """Start importing from the layer in the background, when every member can be read
        from the file it was written from (none is prepared)."""
        if self._running is None and all(source is not None for source in self.layer.values()):
            self._start()

    def _start(self) -> None:
        logger.info("import smoke test of the slimmed layer: %d top-level names, with %s ...",
                    len(self.names), self.interpreter.describe())  # fmt: skip
        self._started_at = time.perf_counter()
        self._running = self._pool.submit(self._failures, self.layer)

    def finish(self, sha256: str) -> SmokeOutcome:
        """The outcome for the zip written (``sha256``): the run started, the verdict of an
        earlier run on the same zip, or a run now. Raises ``PackageError`` (and removes the
        zip) when slimming broke an import."""
        if self._running is None:
            kept = SmokeVerdict.load(self.path_zip)
            if kept is not None and kept.holds_for(self._verdict(sha256)):
                logger.info("import smoke test of the slimmed layer: not run again, this zip "
                            "passed it before with %s (%s)", self.interpreter.describe(),
                            verdict_path(self.path_zip).name)  # fmt: skip
                return SmokeOutcome("reused", interpreter=self.interpreter.describe())
            self._start()
        assert self._running is not None
        waited_from = time.perf_counter()
        (failed,) = wait_for([self._running])
        failing_before: dict[str, str] = {}
        if failed:
            (failing_before,) = wait_for([self._pool.submit(self._failures, self.unslimmed)])
            self._refuse_broken(failed, failing_before)
        attrs.evolve(self._verdict(sha256), failing_before=failing_before).save(self.path_zip)
        seconds, wait_seconds = _since(self._started_at, waited_from)
        outcome = SmokeOutcome("passed", seconds, wait_seconds, self.interpreter.describe())
        logger.info("import smoke test of the slimmed layer: passed in %.1f s (%.1f s after "
                    "the zip was written) with %s", outcome.seconds, outcome.wait_seconds,
                    outcome.interpreter)  # fmt: skip
        return outcome

    def _verdict(self, sha256: str) -> SmokeVerdict:
        return SmokeVerdict(sha256, interpreter_id(self.interpreter), self.names)

    def _refuse_broken(self, failed: Mapping[str, str], before: Mapping[str, str]) -> None:
        broken = {name: error for name, error in failed.items() if name not in before}
        if not broken:
            return
        for path in (self.path_zip, sidecar_path(self.path_zip), verdict_path(self.path_zip)):
            path.unlink(missing_ok=True)
        details = "; ".join(f"import {name}: {error}" for name, error in sorted(broken.items()))
        raise PackageError(
            f"slimming broke imports that work from {self.root} ({details}); {self.path_zip} "
            f"was removed: package without --slim/--strip, or exclude the package from "
            f"slimming"
        )

    def close(self) -> None:
        """Stop the interpreter still running, if any, and remove the views."""
        self._children.kill_all()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for view in self._views:
            remove_entry(view)  # to the end even if interrupted

    def _failures(self, files: Mapping[str, Path | None]) -> dict[str, str]:
        """The imports that fail from a view of ``files`` (in a worker thread)."""
        if not self.names:
            return {}
        # Beside the zip and named like its partial files, so that a run killed before it
        # could clean up leaves nothing the next run would not remove.
        view = make_partial_dir(self.path_zip, "smoke")
        self._views.append(view)
        make_view(view, files, self.path_zip)
        command = [str(self.interpreter.path), "-I", "-S", "-B", "-c", _SCRIPT,
                   str(view / "python"), json.dumps(self.names)]  # fmt: skip
        process = self._children.run(ChildJob(command, timeout=600))
        try:
            result: dict[str, str] = json.loads(process.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise PackageError(
                f"the import smoke test could not run with {self.interpreter.describe()} "
                f"(exit code {process.returncode}): {process.stderr.strip()[-500:]}; package "
                f"with smoke_test=False to skip it"
            ) from None
        return result
