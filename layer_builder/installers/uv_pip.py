"""uv's pip interface: ``uv pip install -r <requirements> --target`` for the layer's target.

``uv pip install`` also installs a plain requirements file, which makes it the default
installer of ``requirements.txt`` projects when uv is available.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from layer_builder.errors import (
    BuildError,
    IncompatibleWheelError,
    InstallerFailedError,
    NoCompatibleWheelError,
    SourceOnlyDependencyError,
)
from layer_builder.installers.base import IndexOptions, Installer, InstallOptions
from layer_builder.installers.diagnosis import Pin, diagnose, diagnosis_indexes, problems_error
from layer_builder.installers.index_errors import uv_failure
from layer_builder.installers.process import run_command
from layer_builder.installers.selection import (
    refuse_selection_for_requirements,
    require_dependencies,
)
from layer_builder.installers.source_builds import BuiltWheel, first_error_line
from layer_builder.installers.target_builds import build_for_target
from layer_builder.installers.target_requirements import (
    PreparedRequirements,
    TargetRequirements,
    prepared,
)
from layer_builder.installers.tools import require_uv
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)

_NO_WHEEL = re.compile(
    r"Because (?P<package>[A-Za-z0-9][A-Za-z0-9._-]*)(?:==\S+)? has no (?P<kind>usable )?wheels"
    r"(?P<detail>.*?)(?= and you require|, we can conclude|$)"
)
_FAILED_BUILD = re.compile(r"Failed to (?:download and )?build `(?P<what>[^`]+)`")
_BUILT_INCOMPATIBLE = re.compile(r"The built wheel `(?P<wheel>[^`]+\.whl)` is not compatible")


def _uv_detail(flat_output: str, detail: str) -> str:
    hint = re.search(r"hint: (?P<hint>.*?)(?= hint:|$)", flat_output)
    return f"uv: {hint['hint']}" if hint else f"uv: has no wheels{detail}"


@contextlib.contextmanager
def scratch_file(name: str) -> Iterator[Path]:
    """A path in a fresh temporary folder outside the project and the build tree."""
    with tempfile.TemporaryDirectory(prefix="layer-builder-") as tmp:
        yield Path(tmp) / name


class _BuiltForHost(Exception):
    """uv built an allowed source distribution into a wheel for this host, not the target."""

    def __init__(self, pin: Pin, refusal: IncompatibleWheelError, index_urls: tuple[str, ...] = ()):
        super().__init__(pin.name)
        self.pin = pin
        self.refusal = refusal
        self.index_urls = index_urls


def drop_uv_cache_records(dir_target: Path) -> None:
    """Remove the ``uv_cache.json`` uv writes into a local wheel's ``*.dist-info`` (and its
    RECORD line): it holds when uv cached the file, so two builds of the same source would
    give different layers, and no reader of a layer needs it."""
    for record in dir_target.glob("*.dist-info/uv_cache.json"):
        dist_info = record.parent
        record.unlink()
        listing = dist_info / "RECORD"
        if listing.is_file():
            entry = f"{dist_info.name}/uv_cache.json,"
            lines = listing.read_text(encoding="utf-8").splitlines(keepends=True)
            listing.write_text(
                "".join(line for line in lines if not line.startswith(entry)), encoding="utf-8"
            )


def _file_options(prepared: PreparedRequirements) -> list[str]:
    """What the requirements file says that uv reads only from its command line."""
    file = prepared.selection.source
    options: list[str] = []
    for name in prepared.source_builds:
        options += ["--no-binary", name]
    if file.pre:
        options += ["--prerelease", "allow"]
    for host in file.trusted_hosts:
        options += ["--allow-insecure-host", host]
    return options


class UvPipInstaller(Installer):
    """Runs ``uv pip install -r <requirements> --target`` for the target's platform.

    Building from source is forbidden (``--only-binary``): with a foreign
    ``--python-platform`` uv would otherwise build source packages with the host's Python.
    """

    name = "uv-pip"

    def __init__(
        self,
        uv: str | None = None,
        index: IndexOptions | None = None,
        options: InstallOptions | None = None,
    ):
        self.uv = uv
        self.index = index or IndexOptions()
        self.options = options or InstallOptions()

    def fingerprint_fields(self) -> dict[str, object]:
        """What of this installer changes the tree: its name and the index options."""
        return {
            "installer": self.name,
            **self.options.fingerprint_fields(),
        }

    def install_command(
        self,
        requirements: Path,
        target: LayerTarget,
        dir_target: Path,
        *,
        require_hashes: bool,
        packages: tuple[str, ...] = (),
        no_deps: bool = False,
        prepared: PreparedRequirements | None = None,
    ) -> list[str]:
        """The exact ``uv pip install`` command; credentials are never part of it
        (``no_deps``: install exactly the requirements, as for a complete lock; ``prepared``:
        what the flat file needs on the command line)."""
        command = [require_uv(self.uv), "pip", "install", "-r", str(requirements)]
        command += [
            "--target", str(dir_target),
            "--python-platform", target.uv_python_platform,
            "--python-version", target.python_version,
            # Copies, not hard links into uv's cache (uv's default): a file of the tree
            # edited in place (by a hook, by hand) must never change the cache, or every
            # later build of every project would install the edited file.
            "--link-mode", "copy",
            "--no-progress",
        ]  # fmt: skip
        if sys.executable:
            # This interpreter: else uv inspects every Python on PATH to pick one (0.1-0.3 s
            # with pyenv's shims), which --python-version and --python-platform then override.
            command += ["--python", sys.executable]
        if self.options.allow_source:
            # Only the listed packages may build; the wheel check refuses non-pure results.
            for name in packages:
                if name not in self.options.allow_source:
                    command += ["--only-binary", name]
        else:
            command += ["--only-binary", ":all:"]
        if prepared is not None:
            command += _file_options(prepared)
        if require_hashes:
            command.append("--require-hashes")
        if no_deps:
            command.append("--no-deps")
        return command

    def install_requirements(
        self,
        requirements: Path,
        target: LayerTarget,
        dir_target: Path,
        *,
        cwd: Path,
        index: IndexOptions | None = None,
        no_deps: bool = False,
        manifest: Manifest | None = None,
    ) -> None:
        """Install a requirements file (hashed or not) into ``dir_target`` for ``target``,
        selected for the target first (``manifest``: where it came from, for messages)."""
        prebuilt: dict[str, BuiltWheel] = {}
        with tempfile.TemporaryDirectory(prefix="layer-builder-") as wheels:
            while True:
                try:
                    self._install_once(requirements, target, dir_target, cwd=cwd,
                                       index=index or self.index, no_deps=no_deps,
                                       manifest=manifest, prebuilt=prebuilt)  # fmt: skip
                    break
                except _BuiltForHost as host_build:
                    if host_build.pin.name in prebuilt:
                        raise host_build.refusal from host_build.__cause__
                    prebuilt[host_build.pin.name] = build_for_target(
                        host_build.pin, target, Path(wheels) / host_build.pin.name,
                        uv=require_uv(self.uv), index_urls=host_build.index_urls, cwd=cwd,
                    )  # fmt: skip
        # uv leaves its lock file in the target; it is no part of any distribution.
        (dir_target / ".lock").unlink(missing_ok=True)
        drop_uv_cache_records(dir_target)

    def _install_once(
        self,
        requirements: Path,
        target: LayerTarget,
        dir_target: Path,
        *,
        cwd: Path,
        index: IndexOptions,
        no_deps: bool,
        manifest: Manifest | None,
        prebuilt: dict[str, BuiltWheel],
    ) -> None:
        """One ``uv pip install`` of the requirements (``prebuilt``: wheels built for the
        target, by name); raises ``_BuiltForHost`` for an allowed source build that uv made
        for this host."""
        what = str(manifest.path if manifest is not None else requirements)
        with prepared(
            requirements, target, project_dir=cwd, allow_source=self.options.allow_source,
            what=what, uv=self.uv, prebuilt=prebuilt,
        ) as flat:  # fmt: skip
            command = self.install_command(
                flat.path,
                target,
                dir_target,
                require_hashes=flat.selection.requires_hashes,
                packages=flat.selection.names,
                no_deps=no_deps,
                prepared=flat,
            )
            env = {"UV_PYTHON_DOWNLOADS": "never", **index.uv_environment()}
            what_runs = f"uv pip install for {target.runtime} {target.architecture}"
            try:
                self._run(command, what_runs, env, cwd, target, index, flat)
            except _BuiltForHost as host_build:
                pin = flat.selection.pin_of(host_build.pin.name, host_build.pin.version)
                urls = diagnosis_indexes(flat.selection.source, index, cwd)
                raise _BuiltForHost(pin, host_build.refusal, urls) from host_build.__cause__

    def _run(
        self,
        command: list[str],
        what: str,
        env: dict[str, str],
        cwd: Path,
        target: LayerTarget,
        index: IndexOptions,
        flat: PreparedRequirements | None = None,
    ) -> str:
        try:
            return run_command(command, what=what, env=env, cwd=cwd, secrets=index.secrets())
        except InstallerFailedError as failed:
            # The typed errors below keep the command and output (masked) as their cause.
            output = failed.output
            flat_output = " ".join(output.split())  # uv wraps long lines
            known = uv_failure(flat_output, index.urls)
            if known is not None:
                raise known from failed
            failed_build = _FAILED_BUILD.search(flat_output)
            if failed_build and not _BUILT_INCOMPATIBLE.search(flat_output):
                raise BuildError(
                    f"building {failed_build['what']} from source failed: "
                    f"{first_error_line(output)}; fix what its build needs, or pin a version "
                    f"that publishes a wheel for {target.description}"
                ) from failed
            missing = _NO_WHEEL.search(flat_output)
            built = _BUILT_INCOMPATIBLE.search(flat_output)
            if flat is not None and (missing or "Hash mismatch" in output):
                explained = self._explain(flat, target, index, env, cwd)
                if explained is not None:
                    raise explained from failed
            if missing:
                package = canonicalize_name(missing["package"])
                if missing["kind"] and "building from source is disabled" in output:
                    raise SourceOnlyDependencyError(package, target.description) from failed
                raise NoCompatibleWheelError(
                    package, target.description, detail=_uv_detail(flat_output, missing["detail"])
                ) from failed
            if built:
                name, version, _, tags = parse_wheel_filename(built["wheel"])
                refusal = IncompatibleWheelError(
                    [(name, sorted(str(t) for t in tags))], target.description
                )
                if name in self.options.allow_source:
                    raise _BuiltForHost(Pin(name, str(version)), refusal) from failed
                raise refusal from failed
            raise

    def _explain(
        self,
        flat: PreparedRequirements,
        target: LayerTarget,
        index: IndexOptions,
        env: dict[str, str],
        cwd: Path,
    ) -> BuildError | None:
        """Every package of ``flat`` that cannot be installed on ``target``, asked of the
        index, as one error (None when the index cannot tell)."""
        pins, complete = flat.selection.pins()
        if not complete:
            pins = self._resolved_pins(flat, target, env, cwd) or pins
        urls = diagnosis_indexes(flat.selection.source, index, cwd)
        problems = diagnose(pins, target, urls, allowed=self.options.allow_source)
        return problems_error(problems, target) if problems else None

    def _resolved_pins(
        self, flat: PreparedRequirements, target: LayerTarget, env: dict[str, str], cwd: Path
    ) -> tuple[Pin, ...]:
        """The versions uv resolves for ``flat`` on ``target`` when it may read source
        distributions' metadata: what each unpinned requirement would install."""
        out = flat.path.with_name("resolved.txt")
        command = [require_uv(self.uv), "pip", "compile", str(flat.path), "-o", str(out),
                   "--python-platform", target.uv_python_platform,
                   "--python-version", target.python_version,
                   "--no-header", "--no-annotate", "--quiet", "--no-progress"]  # fmt: skip
        try:
            run_command(command, what="uv pip compile (to name every package that fails)",
                        env=env, cwd=cwd, secrets=self.index.secrets())  # fmt: skip
        except BuildError:
            return ()
        resolved = TargetRequirements.read(out, target, project_dir=cwd)
        return resolved.pins()[0]

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Install the requirements file's pins into ``dir_target`` with ``uv pip install``."""
        # A requirements file is pip's format: uv follows the index pip's environment names
        # (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL) unless an index was given, so both tools
        # install the same thing.
        refuse_selection_for_requirements(manifest, self.options)
        require_dependencies(manifest.content.decode("utf-8", "replace"), manifest)
        index = self.index.merged_over(IndexOptions.from_environment())
        self.install_requirements(
            manifest.path, target, dir_target, cwd=manifest.project_dir, index=index,
            manifest=manifest,
        )  # fmt: skip
