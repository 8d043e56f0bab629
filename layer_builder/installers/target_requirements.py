"""A requirements file made exact for one target, in a form every installer reads the same.

Installers evaluate markers for the interpreter they run under, not for the layer's target:
pip given ``--python-version 3.12`` on a 3.11 host still installs the ``python_version ==
'3.11'`` line. So the requirements are selected here, with the target's marker values, and
the installer gets a flat file without markers or includes: the requirements that apply,
with their hashes, and the options pip and uv both read in a file (indexes, find-links).
What they read differently (pre-releases, trusted hosts, format control) becomes each
installer's own command-line flags.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import attrs
from packaging.utils import canonicalize_name

from layer_builder.errors import NoDependenciesError, SourceBuildRefusedError
from layer_builder.installers.diagnosis import Pin
from layer_builder.installers.source_builds import BuiltWheel, build_local_package
from layer_builder.installers.tools import require_uv
from layer_builder.model.requirements_file import (
    ALL,
    RequirementLine,
    RequirementsFile,
    read_requirements_file,
)
from layer_builder.model.target import LayerTarget, marker_environment

logger = logging.getLogger(__name__)


def _names_a_wheel(spec: str) -> bool:
    """Whether a URL requirement (``name @ https://host/x.whl?token=...#sha256=...``) is a
    wheel: its path, without query or fragment, ends with ``.whl``."""
    return urlsplit(spec.rpartition(" @ ")[2].strip()).path.endswith(".whl")


def _line(requirement: RequirementLine) -> str:
    # Absolute: uv reads a relative path from the file's folder, pip from the current one.
    spec = str(requirement.path) if requirement.path is not None else requirement.spec
    head = f"-e {spec}" if requirement.editable else spec
    return " \\\n".join([head, *(f"    --hash={h}" for h in requirement.hashes)])


@attrs.frozen
class TargetRequirements:
    """The requirements (and constraints) of a file whose markers hold on ``target``."""

    source: RequirementsFile
    target: LayerTarget
    requirements: tuple[RequirementLine, ...]
    constraints: tuple[RequirementLine, ...] = ()
    #: The manifest the file came from, for messages (a lock's export is a temporary file).
    label: str = ""

    @classmethod
    def read(
        cls,
        path: Path,
        target: LayerTarget,
        *,
        project_dir: Path | None = None,
        extras: Iterable[str] = (),
    ) -> TargetRequirements:
        """Read ``path`` as pip does and keep what applies on ``target``."""
        return cls.select(read_requirements_file(path, project_dir), target, extras)

    @classmethod
    def select(
        cls, source: RequirementsFile, target: LayerTarget, extras: Iterable[str] = ()
    ) -> TargetRequirements:
        """The requirements of ``source`` whose markers hold on ``target``."""
        environments = [marker_environment(target, e) for e in ("", *extras)]
        for note in source.ignored:
            logger.warning("%s", note)
        kept = tuple(r for r in source.requirements if r.applies(environments))
        skipped = len(source.requirements) - len(kept)
        if skipped:
            logger.info("%s: %d requirement(s) left out, their markers do not hold on %s",
                        source.path.name, skipped, target.runtime)  # fmt: skip
        constraints = tuple(c for c in source.constraints if c.applies(environments))
        return cls(source, target, kept, constraints)

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical names the requirements state (a path or URL may state none)."""
        return tuple(r.name for r in self.requirements if r.name is not None)

    def pins(self) -> tuple[tuple[Pin, ...], bool]:
        """The requirements pinned to one version (``==``), with their hashes, and whether
        every requirement is pinned so."""
        pins = []
        for line in self.requirements:
            specifiers = list(line.requirement.specifier) if line.requirement else []
            if len(specifiers) == 1 and specifiers[0].operator in ("==", "==="):
                assert line.name is not None
                pins.append(Pin(line.name, specifiers[0].version, line.hashes))
        return tuple(pins), len(pins) == len(self.requirements)

    def pin_of(self, name: str, version: str) -> Pin:
        """``name`` at ``version`` with the hashes its line lists (none when unpinned)."""
        pins = {p.name: p for p in self.pins()[0]}
        found = pins.get(canonicalize_name(name))
        return found if found is not None and found.version == version else Pin(name, version)

    @property
    def has_hashes(self) -> bool:
        """pip's hash-checking mode: on once any requirement carries a hash, or asked for."""
        return self.source.require_hashes or any(r.hashes for r in self.requirements)

    def require_some(self, what: str) -> None:
        """Refuse a selection with nothing to install (``what`` names the manifest)."""
        if self.requirements:
            return
        total = len(self.source.requirements)
        if total:
            why = (
                f"none of its {total} requirements has a marker that holds on "
                f"{self.target.runtime} {self.target.architecture}"
            )
            fix = "build for a target its markers name, or add requirements for this one"
        else:
            why, fix = "it lists no requirement", "add the packages the layer should hold"
        raise NoDependenciesError(
            f"{what} gives nothing to install for {self.target.description} ({why}), so there "
            f"is nothing to publish: {fix}"
        )

    def source_builds(self, allowed: Iterable[str]) -> tuple[str, ...]:
        """The names the file asks to build from source (``--no-binary``): allowed ones are
        returned, any other is refused naming the package and the flag."""
        asked = self.source.no_binary
        wanted = {n for n in self.names if self.source.builds_from_source(n)}
        refused = sorted(wanted - {canonicalize_name(a) for a in allowed})
        if refused:
            flag = "--no-binary :all:" if ALL in asked else f"--no-binary {','.join(refused)}"
            allow = " ".join(f"--allow-source {name}" for name in refused)
            shown = self.label or self.source.path
            raise SourceBuildRefusedError(
                f"{shown} asks to build {', '.join(refused)} from source ({flag}), "
                f"and a build on this host is for this host, not {self.target.description}: "
                f"allow it ({allow}), or remove the flag to install the published wheels"
            )
        self._refuse_url_builds(allowed)
        return tuple(sorted(wanted))

    @property
    def url_builds(self) -> tuple[RequirementLine, ...]:
        """The requirements built from a URL's source (a VCS repository, a source archive)."""
        return tuple(r for r in self.requirements if r.is_url and not _names_a_wheel(r.spec))

    def _refuse_url_builds(self, allowed: Iterable[str]) -> None:
        keys = {canonicalize_name(a) for a in allowed}
        for line in self.url_builds:
            if line.name is None or line.name not in keys:
                name, shown = line.name or "NAME", self.label or line.where
                raise SourceBuildRefusedError(
                    f"{shown}: {line.spec} is built from source (a repository or source "
                    f"archive, not a wheel), and a build on this host is for this host, not "
                    f"{self.target.description}: allow it if it is pure Python "
                    f"(--allow-source {name}), or publish it as a wheel to an index and lock "
                    f"it from there"
                )

    @property
    def requires_hashes(self) -> bool:
        """Whether the installer must refuse any requirement without a hash: pip's
        hash-checking mode, unless an allowed URL build has none to give (uv still checks
        every hash given)."""
        return self.has_hashes and not self.url_builds

    def render(self, built: Mapping[str, BuiltWheel] | None = None) -> str:
        """The flat file: index options, then one line per requirement (``built``, by the
        requirement's ``where``: a wheel built here, installed instead by name and version
        from its folder, with its hash in hash-checking mode)."""
        built = built or {}
        file = self.source
        lines = []
        if file.no_index:
            lines.append("--no-index")
        elif file.index_url:
            lines.append(f"--index-url {file.index_url}")
        lines += [f"--extra-index-url {url}" for url in file.extra_index_urls]
        lines += [f"--find-links {link}" for link in file.find_links]
        lines += sorted({f"--find-links {wheel.path.parent}" for wheel in built.values()})
        for requirement in self.requirements:
            wheel = built.get(requirement.where)
            if wheel is None:
                lines.append(_line(requirement))
            else:
                hashed = self.has_hashes
                lines.append(
                    wheel.requirement_line() if hashed else f"{wheel.name}=={wheel.version}"
                )
        if self.constraints:
            lines.append("-c constraints.txt")  # written beside it by ``prepared``
        return "".join(f"{line}\n" for line in lines)

    def render_constraints(self) -> str:
        """The constraints that apply, one per line (their hashes are pip's to ignore)."""
        return "".join(f"{c.spec}\n" for c in self.constraints)


@attrs.frozen
class PreparedRequirements:
    """The flat requirements file an installer reads, and what it needs on its command line."""

    path: Path
    selection: TargetRequirements
    #: Names the file asks to build from source, each allowed (``--allow-source``).
    source_builds: tuple[str, ...] = ()


def _is_local_source(line: RequirementLine) -> bool:
    """A folder, or a source archive, of this host (a path to a wheel installs as it is)."""
    return line.path is not None and not line.path.name.endswith(".whl")


@contextlib.contextmanager
def prepared(
    requirements: Path,
    target: LayerTarget,
    *,
    project_dir: Path,
    allow_source: Iterable[str] = (),
    what: str = "",
    uv: str | None = None,
    prebuilt: Mapping[str, BuiltWheel] | None = None,
) -> Iterator[PreparedRequirements]:
    """``requirements`` selected for ``target`` and written flat in a temporary folder (outside
    the project and the build tree) for the time of the install, with the project's local
    packages built into wheels beside it (``prebuilt``: wheels already built for the target,
    by name); ``what`` names the manifest in the refusal of an empty selection."""
    selection = TargetRequirements.read(requirements, target, project_dir=project_dir)
    selection = attrs.evolve(selection, label=what)
    selection.require_some(what or str(requirements))
    builds = selection.source_builds(allow_source)
    with tempfile.TemporaryDirectory(prefix="layer-builder-") as tmp:
        built: dict[str, BuiltWheel] = {}
        for number, line in enumerate(selection.requirements):
            wheel = (prebuilt or {}).get(line.name or "")
            if wheel is None and _is_local_source(line):
                wheel = build_local_package(
                    line, Path(tmp) / "local-wheels" / str(number), target,
                    uv=require_uv(uv), python=Path(sys.executable), cwd=project_dir,
                )  # fmt: skip
            if wheel is not None:
                built[line.where] = wheel
        flat = Path(tmp) / "requirements.txt"
        flat.write_text(selection.render(built), encoding="utf-8")
        if selection.constraints:
            (Path(tmp) / "constraints.txt").write_text(
                selection.render_constraints(), encoding="utf-8"
            )
        yield PreparedRequirements(flat, selection, builds)
