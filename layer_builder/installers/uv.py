"""uv: export a ``uv.lock`` to hashed requirements, then ``uv pip install --target`` them.

``uv pip install`` also installs a plain requirements file, which makes it the default
installer of ``requirements.txt`` projects when uv is available.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from layer_builder.archive.safe_files import write_replacing
from layer_builder.errors import (
    IncompatibleWheelError,
    InstallerFailedError,
    NoCompatibleWheelError,
    SourceOnlyDependencyError,
    StaleLockError,
    ToolMissingError,
)
from layer_builder.installers.base import IndexOptions, Installer, InstallOptions
from layer_builder.installers.index_errors import uv_failure
from layer_builder.installers.process import run_command
from layer_builder.installers.selection import (
    refuse_selection_for_requirements,
    require_dependencies,
    uv_selection_error,
)
from layer_builder.model.layout import LayerPathLayout
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget

_NO_WHEEL = re.compile(
    r"Because (?P<package>[A-Za-z0-9][A-Za-z0-9._-]*)(?:==\S+)? has no (?P<kind>usable )?wheels"
    r"(?P<detail>.*?)(?= and you require|, we can conclude|$)"
)
_BUILT_INCOMPATIBLE = re.compile(r"The built wheel `(?P<wheel>[^`]+\.whl)` is not compatible")
_REQUIREMENT_NAME = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^]]*\])?\s*[=<>~!;@ ]"
)


def _uv_detail(flat_output: str, detail: str) -> str:
    hint = re.search(r"hint: (?P<hint>.*?)(?= hint:|$)", flat_output)
    return f"uv: {hint['hint']}" if hint else f"uv: has no wheels{detail}"


def find_uv() -> str | None:
    """The uv executable: the ``uv`` Python package's binary first, then ``PATH``."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def require_uv(uv: str | None = None) -> str:
    """``uv`` or the one found, with the fix when there is none."""
    found = uv or find_uv()
    if not found:
        raise ToolMissingError(
            "uv is not installed, so uv.lock cannot be exported and installed: "
            "run `python -m pip install uv` (or `pip install 'lambda-layer-builder[uv]'`)"
        )
    return found


def requirement_names(requirements: str) -> tuple[str, ...]:
    """The canonical names of the requirements in a requirements file's text."""
    names = []
    for line in requirements.splitlines():
        match = _REQUIREMENT_NAME.match(line.strip() + " ")
        if match and not line.lstrip().startswith(("-", "#")):
            names.append(canonicalize_name(match["name"]))
    return tuple(names)


@contextlib.contextmanager
def scratch_file(name: str) -> Iterator[Path]:
    """A path in a fresh temporary folder outside the project and the build tree."""
    with tempfile.TemporaryDirectory(prefix="layer-builder-") as tmp:
        yield Path(tmp) / name


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
    ) -> list[str]:
        """The exact ``uv pip install`` command; credentials are never part of it
        (``no_deps``: install exactly the requirements, as for a complete lock)."""
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
    ) -> None:
        """Install a requirements file (hashed or not) into ``dir_target`` for ``target``."""
        index = index or self.index
        text = requirements.read_text(encoding="utf-8")
        command = self.install_command(
            requirements,
            target,
            dir_target,
            require_hashes="--hash=" in text,
            packages=requirement_names(text),
            no_deps=no_deps,
        )
        env = {"UV_PYTHON_DOWNLOADS": "never", **index.uv_environment()}
        what = f"uv pip install for {target.runtime} {target.architecture}"
        self._run(command, what, env, cwd, target, index)
        # uv leaves its lock file in the target; it is no part of any distribution.
        (dir_target / ".lock").unlink(missing_ok=True)

    def _run(
        self,
        command: list[str],
        what: str,
        env: dict[str, str],
        cwd: Path,
        target: LayerTarget,
        index: IndexOptions,
    ) -> str:
        try:
            return run_command(command, what=what, env=env, cwd=cwd, secrets=index.secrets())
        except InstallerFailedError as failed:
            # The typed errors below keep the command and output (masked) as their cause.
            output = failed.output
            flat = " ".join(output.split())  # uv wraps long lines
            known = uv_failure(flat, index.urls)
            if known is not None:
                raise known from failed
            missing = _NO_WHEEL.search(flat)
            if missing:
                package = canonicalize_name(missing["package"])
                if missing["kind"] and "building from source is disabled" in output:
                    raise SourceOnlyDependencyError(package, target.description) from failed
                raise NoCompatibleWheelError(
                    package, target.description, detail=_uv_detail(flat, missing["detail"])
                ) from failed
            built = _BUILT_INCOMPATIBLE.search(flat)
            if built:
                name, _, _, tags = parse_wheel_filename(built["wheel"])
                raise IncompatibleWheelError(
                    [(name, sorted(str(t) for t in tags))], target.description
                ) from failed
            raise

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Install the requirements file's pins into ``dir_target`` with ``uv pip install``."""
        # A requirements file is pip's format: uv follows the index pip's environment names
        # (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL) unless an index was given, so both tools
        # install the same thing.
        refuse_selection_for_requirements(manifest, self.options)
        require_dependencies(manifest.content.decode("utf-8", "replace"), manifest)
        index = self.index.merged_over(IndexOptions.from_environment())
        self.install_requirements(
            manifest.path, target, dir_target, cwd=manifest.project_dir, index=index
        )


class UvInstaller(UvPipInstaller):
    """Installs exactly the locked main dependencies of a ``uv.lock`` project.

    ``uv export --locked`` writes them, with hashes, to a temporary requirements file
    (never inside the project or the build tree): no dev or other default groups, no
    project itself, and a lock that no longer matches pyproject.toml is an error, never a
    silent re-lock.
    """

    name = "uv"

    def export_command(
        self, requirements: Path, *, frozen: bool = False, emit_index_url: bool = False
    ) -> list[str]:
        """``uv export --locked``, or ``--frozen`` for a lock already checked against the
        same pyproject.toml (``--locked`` re-resolves: about 0.5 s)."""
        check = "--frozen" if frozen else "--locked"
        command = [require_uv(self.uv), "export", check, "--format", "requirements.txt"]
        command += [
            "--no-default-groups",
            "--no-editable",
            "--no-emit-project",
            "--no-emit-workspace",
            "--no-header",
            "--no-annotate",
            "--quiet",  # with --output-file, uv also prints the file; the log needs it once
            "--output-file", str(requirements),
        ]  # fmt: skip
        for extra in self.options.extras:
            command += ["--extra", extra]
        for group in self.options.groups:
            command += ["--group", group]
        if emit_index_url:
            command.append("--emit-index-url")
        return command

    def lock_check_key(self, manifest: Manifest) -> str | None:
        """What decides whether ``uv export --locked`` passes: the lock, pyproject.toml and
        the uv that exports. None for a workspace, whose members' pyproject.toml count too."""
        try:
            pyproject = (manifest.project_dir / "pyproject.toml").read_bytes()
        except OSError:
            return None
        if b"[tool.uv.workspace]" in pyproject:
            return None
        digest = hashlib.sha256(manifest.content + b"\0" + pyproject)
        uv = self.uv or find_uv()
        if uv:
            digest.update(f"\0{uv}\0{Path(uv).stat().st_mtime_ns}".encode())
        return digest.hexdigest()

    def export(
        self,
        manifest: Manifest,
        requirements: Path,
        *,
        emit_index_url: bool = False,
        frozen: bool = False,
    ) -> None:
        """Write the locked dependencies of ``manifest``'s project to ``requirements``
        (with ``--index-url`` lines for another installer when ``emit_index_url``; ``frozen``:
        as the lock is, without checking it against pyproject.toml, as ``plan`` reads it)."""
        env = {"UV_PYTHON_DOWNLOADS": "never", **self.index.uv_environment()}
        key = None if frozen else self.lock_check_key(manifest)
        record = LayerPathLayout(manifest.project_dir).dir_build / "uv-lock-checked"
        try:
            checked = frozen or (key is not None and record.read_text(encoding="utf-8") == key)
        except OSError:
            checked = False
        try:
            run_command(
                self.export_command(requirements, frozen=checked, emit_index_url=emit_index_url),
                what=f"uv export of {manifest.path}",
                env=env,
                cwd=manifest.project_dir,
                secrets=self.index.secrets(),
            )
        except InstallerFailedError as exc:
            if "needs to be updated" in exc.output:
                raise StaleLockError(
                    f"{manifest.path} is out of date with "
                    f"{manifest.project_dir / 'pyproject.toml'}: run `uv lock` in "
                    f"{manifest.project_dir} and commit the new lock"
                ) from None
            unknown = uv_selection_error(exc.output, manifest)
            if unknown is not None:
                raise unknown from None
            raise
        if key is not None and not checked:
            with contextlib.suppress(OSError):
                record.parent.mkdir(parents=True, exist_ok=True)
                write_replacing(record, key.encode())  # never through a link at record

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Export the lock to pinned requirements, then install them as ``uv pip`` does."""
        with scratch_file("requirements.txt") as requirements:
            self.export(manifest, requirements)
            require_dependencies(requirements.read_text(encoding="utf-8"), manifest, self.options)
            self.install_requirements(requirements, target, dir_target, cwd=manifest.project_dir)
