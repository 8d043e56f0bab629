"""Wheels built on this host from source: the project's own local packages.

A requirement naming a folder of the project (``./libs/shared``, ``-e ../common``,
``file:///...``) is the user's own code, not a source distribution from an index: it is
built here, as a wheel, every time (so the result never depends on what an installer's
cache holds), with ``uv build`` and a fixed ``SOURCE_DATE_EPOCH``. A pure-Python wheel
serves every target. A wheel with compiled code was compiled for this host, so it is
refused, naming the path and what would build it for the target.

The installer then takes the built wheel by name and version from a find-links folder,
with the wheel's hash: nothing of this host's paths reaches the layer's metadata.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import attrs
from packaging.tags import Tag
from packaging.utils import NormalizedName, parse_wheel_filename

from layer_builder.errors import BuildError, InstallerFailedError, SourceBuildRefusedError
from layer_builder.installers.process import run_command
from layer_builder.model.requirements_file import RequirementLine
from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)

#: 1980-01-02: the zip format's epoch (plus a day, for time zones); builds stamp files with it.
SOURCE_DATE_EPOCH = "315619200"

# The lines uv writes around a failed build (its own words, not the build's).
_UV_FRAME = ("error: ", "cause: ", "hint: ", "help: ", "[stderr]", "[stdout]", "failed to")
_DECORATION = re.compile("^[\\s\u00d7\u251c\u2570\u2502\u2500\u25b6]*")  # uv's frame


@attrs.frozen
class BuiltWheel:
    """A wheel built here, and what installs it."""

    path: Path
    name: NormalizedName
    version: str
    tags: frozenset[Tag]
    sha256: str

    @property
    def pure(self) -> bool:
        """Whether it holds no compiled code (``py3-none-any``): right for every target."""
        return all(t.abi == "none" and t.platform == "any" for t in self.tags)

    def requirement_line(self) -> str:
        """The line that installs exactly this wheel from a find-links folder."""
        return f"{self.name}=={self.version} \\\n    --hash=sha256:{self.sha256}"


def first_error_line(output: str) -> str:
    """The first line of a failed build that says what went wrong (the compiler's or the
    backend's, not uv's frame around it)."""
    lines = [_DECORATION.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        lowered = line.lower()
        if "error" in lowered and not lowered.startswith(_UV_FRAME):
            return line[:300]
    return (lines[-1] if lines else "no output")[:300]


def build_wheel(
    source: Path, out_dir: Path, *, uv: str, python: Path, what: str, cwd: Path
) -> BuiltWheel:
    """Build ``source`` (a folder or a source archive) into one wheel in the empty ``out_dir``
    with ``python``; ``what`` names it in a failure."""
    command = [uv, "build", "--wheel", "--out-dir", str(out_dir), "--python", str(python),
               "--no-progress", str(source)]  # fmt: skip
    env = {"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "UV_PYTHON_DOWNLOADS": "never"}
    try:
        run_command(command, what=f"building {what}", env=env, cwd=cwd)
    except InstallerFailedError as failed:
        raise BuildError(
            f"building {what} failed: {first_error_line(failed.output)}; fix its build (run "
            f"`uv build --wheel {source}` to see all of it)"
        ) from failed
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"building {what} gave {len(wheels)} wheels, not one: fix its build")
    name, version, _, tags = parse_wheel_filename(wheels[0].name)
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    return BuiltWheel(wheels[0], name, str(version), frozenset(tags), digest)


def build_local_package(
    line: RequirementLine,
    out_dir: Path,
    target: LayerTarget,
    *,
    uv: str,
    python: Path,
    cwd: Path,
) -> BuiltWheel:
    """The wheel of the local package ``line`` names, refused when it is not pure Python."""
    assert line.path is not None
    what = f"the local package {line.spec} ({line.where})"
    if line.editable:
        logger.info("%s: installed as a wheel, not editable (an editable install would point "
                    "at this host's folder)", line.where)  # fmt: skip
    wheel = build_wheel(line.path, out_dir, uv=uv, python=python, what=what, cwd=cwd)
    if not wheel.pure:
        tags = ", ".join(sorted(str(t) for t in wheel.tags))
        raise SourceBuildRefusedError(
            f"{line.where}: {line.spec} ({wheel.name}) has compiled code: built on this host "
            f"its wheel is {tags}, which {target.description} cannot load; publish wheels "
            f"of it built for the target (manylinux) to an index and require it by name, or "
            f"build in a container (--container docker)"
        )
    logger.info("built %s: %s", what, wheel.path.name)
    return wheel
