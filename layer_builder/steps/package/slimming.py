"""Opt-in slimming of the layer tree: files a Lambda function never reads at run time.

``--slim`` leaves out bytecode caches, the test suites that dependencies ship, C/C++ headers,
Cython sources and type stubs; ``--strip`` removes debug sections (``--strip unneeded``:
also the symbol tables) from copies of shared objects as they go into the zip (the build tree
is never changed). Nothing inside a
``*.dist-info`` folder is ever dropped, so ``importlib.metadata`` keeps working.

Stripping never breaks a library: what strip would damage (the libraries auditwheel vendors
into ``<dist>.libs/``, a file whose layout strip does not preserve) is left alone, and a
stripped copy that would not load as the original does (``elf.copy_problem``), that strip
failed on or did not make smaller gives way to the original bytes.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

import attrs

from layer_builder.archive.writer import Preparer
from layer_builder.errors import PackageError
from layer_builder.steps.package import elf

logger = logging.getLogger(__name__)


@attrs.frozen
class SlimRule:
    """A kind of file that ``--slim`` leaves out."""

    key: str
    description: str
    matches: Callable[[PurePosixPath], bool] = attrs.field(eq=False, repr=False)


def _in_folder(names: frozenset[str]) -> Callable[[PurePosixPath], bool]:
    return lambda path: any(part in names for part in path.parts[:-1])


def _suffix(suffixes: frozenset[str]) -> Callable[[PurePosixPath], bool]:
    return lambda path: path.suffix.lower() in suffixes


def _bytecode(path: PurePosixPath) -> bool:
    return "__pycache__" in path.parts[:-1] or path.suffix in (".pyc", ".pyo")


#: What ``--slim`` leaves out, in the order the report lists it.
SLIM_RULES: tuple[SlimRule, ...] = (
    SlimRule("bytecode", "__pycache__ folders and *.pyc", _bytecode),
    SlimRule("tests", "tests/ and test/ folders", _in_folder(frozenset({"tests", "test"}))),
    SlimRule("headers", "C/C++ headers", _suffix(frozenset({".h", ".hh", ".hpp", ".hxx"}))),
    SlimRule("cython", "Cython sources", _suffix(frozenset({".pyx", ".pxd", ".pxi"}))),
    SlimRule("stubs", "type stubs (*.pyi)", _suffix(frozenset({".pyi"}))),
)


@attrs.frozen
class Saving:
    """What one slimming measure took out of the layer."""

    what: str
    files: int
    bytes_saved: int
    #: Files it applies to but left as they were (``--strip``: shared objects kept
    #: unstripped), and their bytes.
    kept_files: int = 0
    kept_bytes: int = 0


def slim(files: Sequence[tuple[str, int]]) -> tuple[list[str], tuple[Saving, ...]]:
    """Split ``(relative path, size)`` pairs: the paths kept, and what each rule dropped."""
    kept = []
    dropped: dict[str, list[int]] = {rule.key: [0, 0] for rule in SLIM_RULES}
    for relative, size in files:
        path = PurePosixPath(relative)
        rule = None
        if not path.parts[0].endswith(".dist-info"):
            rule = next((r for r in SLIM_RULES if r.matches(path)), None)
        if rule is None:
            kept.append(relative)
        else:
            dropped[rule.key][0] += 1
            dropped[rule.key][1] += size
    savings = tuple(Saving(r.description, *dropped[r.key]) for r in SLIM_RULES)
    return kept, savings


_SHARED_OBJECT = re.compile(r"\.so(\.[0-9][0-9.]*)?$")


def is_shared_object(relative: str) -> bool:
    """``_x.cpython-312-x86_64-linux-gnu.so``, ``libarrow.so.2600``: what ``--strip`` handles."""
    return _SHARED_OBJECT.search(relative) is not None


#: ``debug`` (``--strip-debug``) or ``unneeded`` (``--strip-unneeded``).
StripMode = Literal["debug", "unneeded"]

#: ``strip`` modes: what each removes from a shared object, as the report names it.
STRIP_MODES: dict[str, str] = {
    "debug": "debug sections of shared objects (strip)",
    "unneeded": "symbol tables of shared objects (strip --strip-unneeded)",
}


#: Tried in this order: GNU strip knows the host's architecture only, llvm-strip them all
#: (an arm64 layer built on an x86_64 host).
STRIP_PROGRAMS = ("strip", "llvm-strip")


def _strip_or_reason(
    programs: Sequence[str], mode: str, source: Path, dest: Path
) -> tuple[int, str] | None:
    """Strip ``source`` into ``dest``; or why the original bytes must go in instead, with the
    log level to say it at."""
    folder = source.parent.name
    if folder.endswith(".libs"):
        return logging.INFO, (
            f"a library vendored into {folder}/ (auditwheel rewrites them with patchelf, "
            f"whose layouts strip does not preserve)"
        )
    try:
        original = elf.read_headers_of(source)
    except PackageError as exc:
        return logging.INFO, str(exc)
    problem = elf.strip_would_break(original)
    if problem is not None:
        return logging.INFO, problem
    errors = []
    for program in programs:
        process = subprocess.run(
            [program, f"--strip-{mode}", "-o", str(dest), str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if process.returncode == 0:
            break
        output = (process.stderr.strip() or process.stdout.strip()).splitlines()
        said = f": {output[-1]}" if output else ""
        errors.append(f"{Path(program).name} exited with {process.returncode}{said}")
    else:
        return logging.INFO, " / ".join(errors)
    before, after = source.stat().st_size, dest.stat().st_size
    if after >= before:
        # Most wheels ship no debug sections: nothing to remove is the usual case, not news.
        return logging.DEBUG, f"strip made it no smaller ({before:,} bytes, then {after:,})"
    problem = elf.stripped_copy_problem(original, dest)
    return None if problem is None else (logging.INFO, problem)


def _run_strip(programs: Sequence[str], mode: str, source: Path, dest: Path) -> None:
    kept = _strip_or_reason(programs, mode, source, dest)
    if kept is not None:
        level, reason = kept
        logger.log(level, "--strip: kept %s unstripped: %s", source, reason)
        shutil.copyfile(source, dest)


def strip_preparer(mode: str = "debug") -> Preparer | None:
    """A ``Preparer`` running ``strip --strip-<mode>`` into the copy, or None without strip.

    ``debug`` removes debug sections only; ``unneeded`` also the symbol tables a loader does
    not use (``.symtab``; ``.dynsym`` stays, so imports work): far more on wheels, which
    rarely ship debug sections, at the price of less telling native backtraces.
    """
    programs = [found for name in STRIP_PROGRAMS if (found := shutil.which(name))]
    if not programs:
        logger.warning(
            "--strip: neither `strip` (binutils) nor `llvm-strip` is on PATH: shared objects kept"
        )
        return None
    # "checked" in the key: members a version without the checks stripped are not reused.
    return Preparer(
        f"strip --strip-{mode}, checked",
        lambda source, dest: _run_strip(programs, mode, source, dest),
    )


def strip_saving(stripped: Iterable[tuple[int, int]], mode: str = "debug") -> Saving:
    """The saving of ``--strip`` from ``(size before, size after)`` per shared object."""
    pairs = list(stripped)
    changed = [(before, after) for before, after in pairs if after < before]
    kept = [before for before, after in pairs if after >= before]
    return Saving(
        STRIP_MODES[mode],
        len(changed),
        sum(before - after for before, after in changed),
        kept_files=len(kept),
        kept_bytes=sum(kept),
    )
