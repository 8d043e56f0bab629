"""Step 2: turn the installed tree into ``layer.zip`` with ``python/`` at its root."""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from layer_builder.archive.deflate import backend_identity
from layer_builder.archive.hashing import sha256_file
from layer_builder.archive.parallel import usable_cpus
from layer_builder.archive.safe_files import remove_partials
from layer_builder.archive.writer import ZipMember, write_reproducible_zip
from layer_builder.errors import MismatchedBuildError, PackageError, ProjectError
from layer_builder.model.contents import CONTENTS_FILENAME
from layer_builder.model.distributions import (
    InstalledDistribution,
    find_distributions,
    owned_files,
)
from layer_builder.model.fingerprint import UNIVERSAL
from layer_builder.model.license_policy import checked_licenses
from layer_builder.model.licenses import DistributionLicense
from layer_builder.model.zip_identity import ZipIdentity
from layer_builder.steps.base import Step
from layer_builder.steps.build import BuildResult
from layer_builder.steps.build_record import check_tree_is_built
from layer_builder.steps.folder_lock import FolderLock
from layer_builder.steps.package import bytecode
from layer_builder.steps.package.contents import contents_of, write_contents
from layer_builder.steps.package.empty_layer import refuse_empty_layer
from layer_builder.steps.package.exclusion import decide_exclusion
from layer_builder.steps.package.options import DEFAULT_EXCLUDES as DEFAULT_EXCLUDES
from layer_builder.steps.package.options import PackageOptions as PackageOptions
from layer_builder.steps.package.sbom import (
    SBOM_FILENAME,
    LayerSubject,
    sbom_is_current,
    write_sbom,
)
from layer_builder.steps.package.selection import checked_selection
from layer_builder.steps.package.size_report import (
    LAMBDA_UNZIPPED_LIMIT,
    DistributionSize,
    FolderSize,
    distribution_sizes,
    folder_sizes,
    format_size,
    owners,
)
from layer_builder.steps.package.slimming import (
    Saving,
    is_shared_object,
    slim,
    strip_preparer,
    strip_saving,
)
from layer_builder.steps.package.smoke import (
    SmokeTest,
    no_interpreter,
    smoke_interpreter,
    top_level_names,
)
from layer_builder.steps.package.tree import walk_tree

ZIP_ROOT = "python"


@attrs.frozen(kw_only=True)
class PackageResult:
    """The zip written, and what went into it."""

    path_zip: Path
    sha256: str
    zip_size: int
    unzipped_size: int
    files: int
    fingerprint: str
    excluded: tuple[str, ...] = ()
    #: Per distribution, largest (unzipped) first.
    distributions: tuple[DistributionSize, ...] = ()
    #: What each slimming measure saved (empty without ``slim``/``strip``).
    savings: tuple[Saving, ...] = ()
    #: Members copied from the previous zip rather than compressed again.
    reused: int = 0
    #: The unzipped bytes the layer may take (Lambda's limit minus the reserve).
    size_limit: int = LAMBDA_UNZIPPED_LIMIT
    #: The licence each shipped distribution declares, by canonical name.
    licenses: tuple[DistributionLicense, ...] = ()
    #: Per distribution and top-level folder, largest (unzipped) first.
    folders: tuple[FolderSize, ...] = ()
    #: The CycloneDX SBOM written beside the zip.
    path_sbom: Path | None = None
    #: What the zip says it holds (its comment); None for a zip made some other way.
    identity: ZipIdentity | None = None
    #: The import smoke test: ``passed``, ``reused`` (this very zip passed it before, under
    #: this interpreter) or None (not run: no slimming, turned off, or no interpreter of the
    #: target's Python and CPU on this host).
    smoke_test: str | None = None
    #: Its wall time, start to verdict (0 when reused or not run) ...
    smoke_test_seconds: float = 0.0
    #: ... and the part of it that came after the zip was written (the rest ran alongside).
    smoke_test_wait_seconds: float = 0.0
    #: The interpreter that imported (``python3.12 at /usr/bin/python3.12 (PATH)``), if any.
    smoke_test_interpreter: str | None = None

    @classmethod
    def from_zip(cls, path_zip: Path) -> PackageResult:
        """Describe a ``layer.zip`` packaged earlier (to upload it), from its identity."""
        identity = ZipIdentity.read(path_zip)
        if identity is None:
            raise PackageError(
                f"{path_zip} carries no layer_builder identity (packaged by another tool or "
                f"an older version): run `layer-builder package` again"
            )
        with zipfile.ZipFile(path_zip) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
        return cls(
            path_zip=path_zip,
            sha256=sha256_file(path_zip),
            zip_size=path_zip.stat().st_size,
            unzipped_size=sum(i.file_size for i in members),
            files=len(members),
            fingerprint=identity.fingerprint,
            identity=identity,
        )


def _in_tree(arcname: str) -> str:
    """``python/yaml/__init__.py`` -> ``yaml/__init__.py``."""
    return arcname[len(ZIP_ROOT) + 1 :]


class PackageStep(Step[BuildResult, PackageResult]):
    """Zips ``BuildResult.dir_python`` reproducibly, leaving out excluded distributions.

    Exclusion goes by each distribution's ``RECORD``, so a distribution's files go whatever
    their names (``PyYAML`` installs ``yaml/`` and ``_yaml/``), and only the files it owns; a
    build tool stays when a kept distribution requires it (``exclusion``). A tree left with
    nothing to import, and the size guard on the final sizes (after slimming and stripping),
    stop the run before any byte of the zip is written. The run holds the folder lock
    ``path_lock`` (default: ``.lock`` beside the zip, which is ``LayerPathLayout.path_lock``
    for the layout's zip).
    """

    name = "package"

    def __init__(
        self,
        path_zip: Path,
        options: PackageOptions | None = None,
        path_sbom: Path | None = None,
        *,
        path_lock: Path | None = None,
    ):
        self.path_zip = path_zip
        self.options = options or PackageOptions()
        self.path_sbom = path_sbom or path_zip.with_name(SBOM_FILENAME)
        self.path_lock = path_lock or path_zip.with_name(".lock")

    def fingerprint_fields(self) -> Mapping[str, object]:
        """The options that change what the zip holds (excludes, slimming, bytecode)."""
        return self.options.fingerprint_fields()

    def last_result(self, build: BuildResult | None = None) -> PackageResult:
        """The zip an earlier run of this step left, from its identity (to upload it in a
        later command). With ``build`` (the tree it should come from), a zip made from
        another build, or with other package options, is refused."""
        if not self.path_zip.is_file():
            raise ProjectError(f"{self.path_zip} does not exist: run `layer-builder package` first")
        result = PackageResult.from_zip(self.path_zip)
        if build is None or result.identity is None:
            return result
        if result.fingerprint != build.layer_fingerprint(self.fingerprint_fields()):
            raise MismatchedBuildError(
                f"{self.path_zip} was packaged from another build of {build.dir_python} or "
                f"with other options than this command's: run `layer-builder package` again "
                f"(with the options given to build and package), or `layer-builder run`"
            )
        return result

    def select_files(self, files: dict[str, Path]) -> dict[str, Path]:
        """The files that go into the zip, by path in the tree (``yaml/__init__.py``), after
        excludes and slimming. Override to leave more out, or to add a file (any path on
        disk, at a place of your choosing under ``python/``); count what you change in
        ``fingerprint_fields()``, since it changes the layer's content."""
        return files

    @property
    def dir_bytecode_cache(self) -> Path:
        """Compiled modules kept between runs (``compile_bytecode``)."""
        return self.path_zip.with_name(self.path_zip.name + ".pycache")

    @property
    def path_contents(self) -> Path:
        """What the zip holds, per distribution: stored with each version it becomes."""
        return self.path_zip.with_name(CONTENTS_FILENAME)

    def run(self, build: BuildResult) -> PackageResult:
        """Zip the tree ``build`` left, under the project's folder lock."""
        with FolderLock(self.path_lock, "package"):
            removed = self._remove_partials()
            if removed:
                self.logger.info("removed what an interrupted run left: %s",
                                 ", ".join(p.name for p in removed))  # fmt: skip
            bytecode.remove_unfinished(self.dir_bytecode_cache)
            try:
                return self._run(build)
            finally:
                # Whatever an interruption left at any instant (a scratch folder made an
                # instant before its cleanup was armed): this run's, as the lock is held.
                self._remove_partials()

    def _remove_partials(self) -> list[Path]:
        """The partial files of the zip and of the records written beside it, deleted."""
        return [p for path in (self.path_zip, self.path_sbom, self.path_contents)
                for p in remove_partials(path)]  # fmt: skip

    def _run(self, build: BuildResult) -> PackageResult:
        root = build.dir_python
        check_tree_is_built(root)  # what the build installed, or refused
        options = self.options
        runtime, architecture = (
            (UNIVERSAL, UNIVERSAL)
            if build.universal
            else (build.target.runtime, build.target.architecture)
        )
        identity = ZipIdentity(
            fingerprint=build.layer_fingerprint(self.fingerprint_fields()),
            manifest_sha256=build.manifest.sha256,
            runtime=runtime,
            architecture=architecture,
            compression=backend_identity(options.backend, options.compresslevel),
        )
        distributions = find_distributions(root)
        extras = build.install_options.extras
        exclusion = decide_exclusion(root, distributions, options, build.target, extras)
        excluded, kept_distributions = list(exclusion.excluded), list(exclusion.kept)
        tree = walk_tree(root, owned_files(excluded, kept_distributions))
        files, sizes, modes = tree.files, tree.sizes, tree.modes
        savings: tuple[Saving, ...] = ()
        if options.slim:
            kept, savings = slim(list(sizes.items()))
            files = {relative: files[relative] for relative in kept}
        hook = f"{type(self).__name__}.select_files()"
        selected = checked_selection(self.select_files(dict(files)), tree, hook)
        files, sizes, modes = selected.files, selected.sizes, selected.modes
        refuse_empty_layer(files, build, distributions, excluded)
        licenses = checked_licenses(root, kept_distributions, options.deny_licenses)
        owner_of = owners(kept_distributions)
        if excluded:
            self.logger.info("leaving out %s", ", ".join(d.name for d in excluded))
        for saving in (s for s in savings if s.files):
            self.logger.info("--slim: %s, %d files, %s", saving.what, saving.files,
                             format_size(saving.bytes_saved))  # fmt: skip
        if options.compile_bytecode:
            files = self._add_bytecode(build, files, sizes, owner_of)
        prepare = strip_preparer(options.strip_mode) if options.strip else None
        members = [
            ZipMember(
                f"{ZIP_ROOT}/{relative}",
                path,
                modes.get(relative, 0o644),
                prepare if is_shared_object(relative) else None,
            )
            for relative, path in files.items()
        ]

        def guard(final: Sequence[tuple[str, int]]) -> None:
            report = [(_in_tree(name), size, 0) for name, size in final]
            by_distribution = distribution_sizes(report, owner_of)
            options.size_limit.check(sum(size for _, size in final), by_distribution, str(root))

        unzipped = sum(sizes[relative] for relative in files)
        smoke = self._smoke_test(build, tree.files, members, kept_distributions)
        with smoke or contextlib.nullcontext():
            with self.timed(f"zipping {len(members)} files ({format_size(unzipped)})"):
                report = write_reproducible_zip(
                    members,
                    self.path_zip,
                    options.compresslevel,
                    backend=options.backend,
                    workers=options.workers,
                    incremental=options.incremental,
                    before_write=guard,
                    comment=identity.to_comment(),
                    on_write=smoke.start if smoke else None,  # imports while it zips
                )
            smoked = smoke.finish(report.sha256) if smoke else None
        if report.reused:
            self.logger.info("reused %d unchanged members of the previous zip", report.reused)
        if prepare is not None:
            stripped = [
                (sizes[_in_tree(m.name)], m.size)
                for m in report.members
                if is_shared_object(m.name)
            ]
            savings += (strip_saving(stripped, options.strip_mode),)
        sized = [(_in_tree(m.name), m.size, m.compressed_size) for m in report.members]
        result = PackageResult(
            path_zip=self.path_zip,
            sha256=report.sha256,
            zip_size=report.zip_size,
            unzipped_size=sum(m.size for m in report.members),
            files=len(report.members),
            fingerprint=identity.fingerprint,
            identity=identity,
            excluded=tuple(d.name for d in excluded),
            distributions=distribution_sizes(sized, owner_of),
            savings=savings,
            reused=report.reused,
            size_limit=options.size_limit.available,
            licenses=licenses,
            folders=folder_sizes(sized, owner_of),
            smoke_test=smoked.status if smoked else None,
            smoke_test_seconds=smoked.seconds if smoked else 0.0,
            smoke_test_wait_seconds=smoked.wait_seconds if smoked else 0.0,
            smoke_test_interpreter=smoked.interpreter if smoked else None,
        )
        subject = LayerSubject(result.sha256, runtime, architecture, result.fingerprint)
        if not sbom_is_current(self.path_sbom, result.sha256):
            write_sbom(self.path_sbom, root, kept_distributions, licenses, subject)
        result = attrs.evolve(result, path_sbom=self.path_sbom)
        write_contents(self.path_contents, contents_of(result, build.target))
        self.logger.info(
            "wrote %s: %s zipped, %s unzipped, sha256 %s", self.path_zip,
            format_size(result.zip_size), format_size(result.unzipped_size), result.sha256,
        )  # fmt: skip
        return result

    def _smoke_test(
        self,
        build: BuildResult,
        unslimmed: Mapping[str, Path],
        members: Sequence[ZipMember],
        distributions: Sequence[InstalledDistribution],
    ) -> SmokeTest | None:
        """The import smoke test of this zip, when something was left out or changed."""
        options = self.options
        if not (options.slim or options.strip) or not options.smoke_test:
            return None
        interpreter = smoke_interpreter(build.target)
        if interpreter is None:
            self.logger.log(*no_interpreter(build.target))
            return None
        return SmokeTest(
            build.dir_python,
            self.path_zip,
            {m.arcname: None if m.prepare else m.source for m in members},
            {f"{ZIP_ROOT}/{relative}": path for relative, path in unslimmed.items()},
            # What the zip holds: a top-level package slimming left out is not imported.
            top_level_names(
                distributions, build.dir_python, {m.arcname.split("/")[1] for m in members}
            ),
            interpreter,
        )

    def _add_bytecode(
        self,
        build: BuildResult,
        files: dict[str, Path],
        sizes: dict[str, int],
        owner_of: dict[str, InstalledDistribution],
    ) -> dict[str, Path]:
        """``files`` with a compiled ``.pyc`` for every module (replacing any in the tree)."""
        interpreter = bytecode.bytecode_interpreter(build.target)
        cache = self.dir_bytecode_cache
        workers = self.options.workers or usable_cpus()
        with self.timed(f"compiling bytecode (unchecked-hash pycs) with {interpreter.describe()}"):
            compiled = bytecode.compile_bytecode(files, cache, workers, interpreter)
        merged = dict(files)
        for pyc, (source, path) in compiled.items():
            merged[pyc] = path
            sizes[pyc] = path.stat().st_size
            if source in owner_of:
                owner_of[pyc] = owner_of[source]
        return dict(sorted(merged.items()))
