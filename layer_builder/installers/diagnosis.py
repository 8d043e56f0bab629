"""Why pinned packages cannot be installed for a target, every one at once, from what the
package index lists.

An installer stops at the first package it cannot install and says it in its own words
("has no usable wheels", "Hash mismatch", pip's list of every version). After such a
failure the index is asked for the page of each pinned package (side by side), and each
pin is judged against the target: a wheel that fits and whose hash the lock lists is
fine; else the reason is said precisely (only a source distribution; wheels for other
Pythons, CPUs or a newer glibc than the runtime's; no hash for the file that fits), with
the newest version that would fit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from layer_builder.errors import BuildError, DependencyProblemsError, SourceOnlyDependencyError
from layer_builder.installers.base import IndexOptions
from layer_builder.installers.index_files import IndexFile, files_of
from layer_builder.installers.uv_lock import read_toml_file
from layer_builder.model.requirements_file import RequirementsFile
from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)

_LINUX_PREFIX = re.compile(r"^(?:(?:many|musl)linux(?:_\d+_\d+|1|2010|2014)|linux)_")

#: Index pages asked at once.
WORKERS = 8


@attrs.frozen
class Pin:
    """A requirement pinned to one version, with the hashes the lock lists (``sha256:...``)."""

    name: str
    version: str
    hashes: tuple[str, ...] = ()


@attrs.frozen
class Problem:
    """Why one pin cannot be installed on the target, and what to do."""

    name: str
    version: str
    #: ``source-only``, ``no-wheel``, ``no-hash`` or ``missing``.
    kind: str
    cause: str
    fix: str

    def line(self) -> str:
        """``numpy 2.3.4: <cause>; <fix>``."""
        return f"{self.name} {self.version}: {self.cause}; {self.fix}"


def _fits(file: IndexFile, target: LayerTarget) -> bool:
    return file.is_wheel and any(target.accepts(tag) for tag in file.tags)


def _glibc(platform: str) -> tuple[int, int] | None:
    """``(2, 28)`` for ``manylinux_2_28_x86_64`` (and the legacy aliases)."""
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    for alias, version in legacy.items():
        if platform.startswith(alias + "_"):
            return version
    if platform.startswith("manylinux_"):
        major, minor = platform.split("_")[1:3]
        return int(major), int(minor)
    return None


_FAMILIES = (
    ("manylinux", "manylinux"),
    ("musllinux", "musllinux (Alpine)"),
    ("macosx", "macOS"),
    ("win", "Windows"),
    ("linux", "linux"),
)


def _platform_family(platform: str) -> str:
    return next((family for prefix, family in _FAMILIES if platform.startswith(prefix)), platform)


def _interpreters(tags: Iterable[Tag]) -> str:
    names = sorted({t.interpreter for t in tags}, key=lambda i: (len(i), i))
    return ", ".join(names)


def why_no_wheel_fits(wheels: Sequence[IndexFile], target: LayerTarget) -> str:
    """What the wheels of a version are for, said against the target's Python, CPU, glibc."""
    tags = [tag for wheel in wheels for tag in wheel.tags]
    pairs = {(t.interpreter, t.abi) for t in target.supported_tags}
    for_python = [t for t in tags if (t.interpreter, t.abi) in pairs]
    if not for_python:
        return (
            f"its wheels are for {_interpreters(tags)}, none for {target.runtime} "
            f"({target.interpreter_tag})"
        )
    machine = target.machine
    on_linux = [t for t in for_python if _glibc(t.platform) and t.platform.endswith(machine)]
    if on_linux:
        needed = min(_glibc(t.platform) or (9, 99) for t in on_linux)
        platforms = sorted({t.platform.removesuffix(f"_{machine}") for t in on_linux})
        have = target.glibc
        return (
            f"its {target.interpreter_tag} wheels for {machine} are {', '.join(platforms)} "
            f"(glibc {needed[0]}.{needed[1]} or newer), and {target.runtime}'s runtime has "
            f"glibc {have[0]}.{have[1]}"
        )
    families = sorted({_platform_family(t.platform) for t in for_python})
    machines = sorted(
        {_LINUX_PREFIX.sub("", t.platform) for t in for_python if "linux" in t.platform}
    )
    where = f" (its Linux wheels: {', '.join(machines)})" if machines else ""
    only = ", ".join(families)
    return f"it has no {machine} manylinux wheel for {target.runtime}: only {only}{where}"


def _preference(file: IndexFile, target: LayerTarget) -> int:
    """The rank of the file's best tag in the target's order (lower: an installer's pick)."""
    return min(target.supported_tags.index(t) for t in file.tags if target.accepts(t))


def _newest_fitting(files: Sequence[IndexFile], target: LayerTarget) -> Version | None:
    fitting = {f.version for f in files if _fits(f, target) and not f.yanked}
    stable = [v for v in fitting if not v.is_prerelease]
    return max(stable or fitting, default=None)


def judge(pin: Pin, files: Sequence[IndexFile], target: LayerTarget) -> Problem | None:
    """The problem of ``pin`` on ``target`` given the project's ``files``; None if fine."""
    try:
        version = Version(pin.version)
    except InvalidVersion:
        return None
    of_version = [f for f in files if f.version == version]
    if not of_version:
        listed = ", ".join(str(v) for v in sorted({f.version for f in files})[-5:]) or "none"
        cause = f"the index has no such version (its latest: {listed})"
        return Problem(
            pin.name, pin.version, "missing", cause, "pin a version it has, then lock again"
        )
    fitting = [f for f in of_version if _fits(f, target)]
    if fitting:
        return _hash_problem(pin, of_version, fitting, target)
    older = _older_advice(pin, files, target)
    allow = f"allow a build if it is pure Python (--allow-source {pin.name})"
    wheels = [f for f in of_version if f.is_wheel]
    if not wheels:
        fix = " or ".join(x for x in (older, allow) if x)
        return Problem(pin.name, pin.version, "source-only",
                       "publishes only a source distribution", fix)  # fmt: skip
    cause = why_no_wheel_fits(wheels, target)
    if any(not f.is_wheel for f in of_version):
        cause += " (its source distribution would be built on this host)"
        fix = " or ".join(x for x in (older, allow) if x)
    else:
        fix = older or "build in a container (--container docker) or choose another target"
    return Problem(pin.name, pin.version, "no-wheel", cause, fix)


def _hash_problem(
    pin: Pin, of_version: Sequence[IndexFile], fitting: Sequence[IndexFile], target: LayerTarget
) -> Problem | None:
    """None when the lock lists no hashes or a hash of a file that fits; else which file's
    hash is missing, or that the lock's hashes match nothing the index has."""
    hashed = {h.partition(":")[2] for h in pin.hashes if h.startswith("sha256:")}
    if not pin.hashes or any(f.sha256 in hashed for f in fitting if f.sha256):
        return None
    best = min(fitting, key=lambda f: _preference(f, target))
    if not any(f.sha256 in hashed for f in of_version if f.sha256):
        listed = ", ".join(sorted(pin.hashes)[:2]) + (", ..." if len(pin.hashes) > 2 else "")
        return Problem(
            pin.name, pin.version, "no-hash",
            f"the lock's hashes ({listed}) match no file the index lists for this version "
            f"(it lists sha256:{best.sha256} for {best.filename})",
            "check where the lock and the files come from (an edited lock, or other bytes on "
            "the index), then lock again",
        )  # fmt: skip
    return Problem(
        pin.name, pin.version, "no-hash",
        f"the lock lists no hash of {best.filename}, the file {target.runtime} "
        f"{target.architecture} needs (it was locked before that wheel was published, or "
        f"for other platforms)",
        "lock again so that the lock records it",
    )  # fmt: skip


def _older_advice(pin: Pin, files: Sequence[IndexFile], target: LayerTarget) -> str:
    """``pin wrapt==1.17.2 (the newest 1.x with a wheel for python3.12 x86_64; newest: 2.0)``."""
    where = f"{target.runtime} {target.architecture}"
    newest = _newest_fitting(files, target)
    if newest is None:
        return ""
    major = Version(pin.version).major
    same_major = _newest_fitting([f for f in files if f.version.major == major], target)
    if same_major is None or same_major == newest:
        return f"pin {pin.name}=={newest} (the newest with a wheel for {where})"
    return (
        f"pin {pin.name}=={same_major} (the newest {major}.x with a wheel for {where}; "
        f"newest of all: {newest})"
    )


def diagnose(
    pins: Sequence[Pin],
    target: LayerTarget,
    index_urls: Sequence[str],
    allowed: Iterable[str] = (),
) -> tuple[Problem, ...] | None:
    """The problems of ``pins`` on ``target``, in the pins' order; None when the indexes
    could not be asked (no answer from any of them for any pin). A source distribution of
    an ``allowed`` package (``--allow-source``) is no problem."""
    allowed = {canonicalize_name(a) for a in allowed}
    if not pins or not index_urls:
        return None
    names = sorted({canonicalize_name(p.name) for p in pins})
    with ThreadPoolExecutor(min(WORKERS, len(names)), thread_name_prefix="layer-index") as pool:
        pages = dict(zip(names, pool.map(lambda n: files_of(index_urls, n), names), strict=True))
    if all(page is None for page in pages.values()):
        return None
    problems = []
    for pin in pins:
        files = pages[canonicalize_name(pin.name)]
        if files is not None:
            problem = judge(pin, files, target)
            if problem is not None and not (problem.kind == "source-only" and
                                            canonicalize_name(pin.name) in allowed):  # fmt: skip
                problems.append(problem)
    logger.debug("asked the index about %d packages: %d problems", len(names), len(problems))
    return tuple(problems)


def problems_error(problems: Sequence[Problem], target: LayerTarget) -> BuildError:
    """The error naming every problem: packages that publish only source distributions,
    with no version that fits, get the --allow-source line; the rest each their own."""
    if all(p.kind == "source-only" and "==" not in p.fix for p in problems):
        return SourceOnlyDependencyError([p.name for p in problems], target.description)
    return DependencyProblemsError(problems, target.description)


#: The index uv and pip use when none is given.
DEFAULT_INDEX = "https://pypi.org/simple/"


def diagnosis_indexes(
    file: RequirementsFile, index: IndexOptions, project_dir: Path
) -> tuple[str, ...]:
    """The indexes the installer read: the given ones and the requirements file's own
    lines, else a uv project's ``[[tool.uv.index]]``, else the default index (none when
    the file says ``--no-index``)."""
    if file.no_index:
        return ()
    urls = [*index.urls, *([file.index_url] if file.index_url else []), *file.extra_index_urls]
    if not urls:
        pyproject = read_toml_file(project_dir / "pyproject.toml")
        declared = pyproject.get("tool", {}).get("uv", {}).get("index", [])
        urls = [str(i["url"]) for i in declared if isinstance(i, dict) and i.get("url")]
    return tuple(dict.fromkeys(urls)) or (DEFAULT_INDEX,)
