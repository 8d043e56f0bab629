"""uv: export a ``uv.lock`` to hashed requirements, then install them as ``uv pip`` does."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from layer_builder.archive.safe_files import write_replacing
from layer_builder.errors import InstallerFailedError, StaleLockError
from layer_builder.installers.host_pythons import find_host_python_matching
from layer_builder.installers.process import run_command
from layer_builder.installers.python_range import check_python_range
from layer_builder.installers.selection import require_dependencies, uv_selection_error
from layer_builder.installers.tools import find_uv, require_uv
from layer_builder.installers.uv_lock import lock_mismatch, read_toml
from layer_builder.installers.uv_pip import UvPipInstaller, scratch_file
from layer_builder.model.layout import LayerPathLayout
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)


def _stale(manifest: Manifest, why: str) -> StaleLockError:
    return StaleLockError(
        f"{manifest.path} is out of date with {manifest.project_dir / 'pyproject.toml'}{why}: "
        f"run `uv lock` in {manifest.project_dir} and commit the new lock"
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
        self,
        requirements: Path,
        *,
        frozen: bool = False,
        emit_index_url: bool = False,
        python: Path | None = None,
    ) -> list[str]:
        """``uv export --locked`` (with ``python``, an interpreter within the project's
        range, which uv's check needs), or ``--frozen`` for a lock checked otherwise."""
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
        if python is not None and not frozen:
            command += ["--python", str(python)]
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
        as the lock is, without checking it against pyproject.toml, as ``plan`` reads it).

        The check that the lock matches pyproject.toml is uv's own when an interpreter within
        the project's ``requires-python`` is on the host, else the comparison of
        :mod:`layer_builder.installers.uv_lock`; either way no interpreter of the target's
        version is needed. uv's check, once passed, is remembered for the same lock,
        pyproject.toml and uv.
        """
        env = {"UV_PYTHON_DOWNLOADS": "never", **self.index.uv_environment()}
        key = None if frozen else self.lock_check_key(manifest)
        record = LayerPathLayout(manifest.project_dir).dir_build / "uv-lock-checked"
        try:
            checked = frozen or (key is not None and record.read_text(encoding="utf-8") == key)
        except OSError:
            checked = False
        python = None if checked else self._checking_python(manifest)
        try:
            run_command(
                self.export_command(
                    requirements,
                    frozen=checked or python is None,
                    emit_index_url=emit_index_url,
                    python=python,
                ),
                what=f"uv export of {manifest.path}",
                env=env,
                cwd=manifest.project_dir,
                secrets=self.index.secrets(),
            )
        except InstallerFailedError as exc:
            if "needs to be updated" in exc.output:
                raise _stale(manifest, "") from None
            unknown = uv_selection_error(exc.output, manifest)
            if unknown is not None:
                raise unknown from None
            raise
        # Only uv's own check is remembered: the comparison made without it is weaker, and a
        # host that gains an interpreter of the range then runs uv's.
        if key is not None and not checked and python is not None:
            with contextlib.suppress(OSError):
                record.parent.mkdir(parents=True, exist_ok=True)
                write_replacing(record, key.encode())  # never through a link at record

    def _checking_python(self, manifest: Manifest) -> Path | None:
        """An interpreter for uv's own check of the lock, or None after checking it here
        (raises ``StaleLockError`` when the lock does not record pyproject.toml)."""
        lock = read_toml(manifest.content)
        try:
            specifier = SpecifierSet(str(lock.get("requires-python", "")))
        except InvalidSpecifier:
            specifier = SpecifierSet()
        found = find_host_python_matching(specifier)
        if found is not None:
            return found.path
        pyproject = manifest.project_dir / "pyproject.toml"
        try:
            mismatch = lock_mismatch(lock, read_toml(pyproject.read_bytes()))
        except OSError:
            mismatch = None  # uv export reports a missing pyproject.toml itself
        if mismatch:
            raise _stale(manifest, f" ({mismatch})")
        logger.info(
            "checked %s against %s without uv (uv's own check needs a Python %s, which this "
            "host lacks)", manifest.path, pyproject, specifier or "interpreter",
        )  # fmt: skip
        return None

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Export the lock to pinned requirements, then install them as ``uv pip`` does."""
        requires_python = read_toml(manifest.content).get("requires-python")
        check_python_range(
            manifest, target, requires_python, where="requires-python in uv.lock"
        )  # fmt: skip
        with scratch_file("requirements.txt") as requirements:
            self.export(manifest, requirements)
            require_dependencies(requirements.read_text(encoding="utf-8"), manifest, self.options)
            self.install_requirements(
                requirements, target, dir_target, cwd=manifest.project_dir, manifest=manifest
            )
