"""Step 2: turn the installed tree into ``layer.zip`` with ``python/`` at its root."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs
from packaging.utils import canonicalize_name

from layer_builder.archive.deflate import (
    DEFAULT_BACKEND,
    DEFAULT_LEVEL,
    Deflater,
    backend_identity,
)
from layer_builder.archive.hashing import sha256_file
from layer_builder.archive.parallel import usable_cpus
from layer_builder.archive.safe_files import remove_partials
from layer_builder.archive.writer import ZipMember, write_reproducible_zip
from layer_builder.choices import choice_validator
from layer_builder.errors import (
    ConfigurationError,
    MismatchedBuildError,
    PackageError,
    ProjectError,
)
from layer_builder.model.contents import CONTENTS_FILENAME
from layer_builder.model.distributions import (
    InstalledDistribution,
    find_distributions,
    owned_files,
)
from layer_builder.model.fingerprint import UNIVERSAL
from layer_builder.model.license_policy import LicensePolicy, checked_licenses
from layer_builder.model.licenses import DistributionLicense
from layer_builder.model.zip_identity import ZipIdentity
from layer_builder.steps.base import Step
from layer_builder.steps.build import BuildResult
from layer_builder.steps.folder_lock import FolderLock
from layer_builder.steps.package import bytecode
from layer_builder.steps.package.contents import contents_of, write_contents
from layer_builder.steps.package.sbom import SBOM_FILENAME, LayerSubject, write_sbom
from layer_builder.steps.package.size_report import (
    LAMBDA_UNZIPPED_LIMIT,
    DistributionSize,
    FolderSize,
    SizeLimit,
    distribution_sizes,
    folder_sizes,
    format_size,
    owners,
)
from layer_builder.steps.package.slimming import (
    STRIP_MODES,
    Saving,
    StripMode,
    is_shared_object,
    slim,
    strip_preparer,
    strip_saving,
)
from layer_builder.steps.package.smoke import import_smoke_test, smoke_test_applies
from layer_builder.steps.package.tree import walk_tree

#: Provided by the Lambda Python runtime, or only needed to install: left out by default.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "boto3",
    "botocore",
    "pip",
    "s3transfer",
    "setuptools",
    "wheel",
)

ZIP_ROOT = "python"


def _canonical_names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({canonicalize_name(n) for n in names}))


def _denied_licenses(values: Iterable[str]) -> tuple[str, ...]:
    return LicensePolicy(tuple(values)).denied


def _check_reserve(options: PackageOptions, _: attrs.Attribute[int], value: int) -> None:
    limit = options.max_unzipped_size
    if value < 0:
        raise ConfigurationError(
            f"reserve of {value:,} bytes is negative: give 0 or more (e.g. --reserve 20MB)"
        )
    if value >= limit:
        raise ConfigurationError(
            f"--reserve {format_size(value)} ({value:,} bytes) is not below Lambda's "
            f"{format_size(limit)} unzipped limit ({limit:,} bytes), so no room is left for "
            f"the layer: reserve only what the function's own code and its other layers "
            f"take (e.g. --reserve 20MB)"
        )


@attrs.frozen
class PackageOptions:
    """How the tree becomes a zip. What changes the layer's content (excludes, slimming) is
    part of the build fingerprint; how it is compressed is not."""

    excludes: tuple[str, ...] = attrs.field(default=DEFAULT_EXCLUDES, converter=_canonical_names)
    #: 0 (store) to 12 (9 with zlib); 6 is as small as ``zip -9`` on real layers.
    compresslevel: int = DEFAULT_LEVEL
    #: Lambda's unzipped limit for the function and all its layers.
    max_unzipped_size: int = LAMBDA_UNZIPPED_LIMIT
    #: Bytes of that limit kept for the function's own code and its other layers.
    reserve: int = attrs.field(default=0, validator=_check_reserve)
    #: Leave out bytecode caches, dependencies' tests, headers, Cython sources, type stubs.
    slim: bool = False
    #: ``strip --strip-debug`` copies of shared objects on their way into the zip.
    strip: bool = False
    #: ``debug`` (``--strip-debug``) or ``unneeded`` (``--strip-unneeded``: also symbol tables).
    strip_mode: StripMode = attrs.field(
        default="debug",
        validator=choice_validator(tuple(STRIP_MODES), "strip mode", "e.g. --strip unneeded"),
    )
    #: After slimming, import every top-level package when the host can run the target.
    smoke_test: bool = True
    #: Add unchecked-hash ``.pyc`` files (needs the target's Python version on the host).
    compile_bytecode: bool = False
    #: ``libdeflate`` (bundled, the same bytes on every host) or ``zlib`` (the host's zlib).
    backend: str = DEFAULT_BACKEND
    #: Compression workers; None means every core. Never changes the bytes.
    workers: int | None = None
    #: Copy unchanged members from the previous zip instead of compressing them again.
    incremental: bool = True
    #: SPDX licence identifiers or patterns (``AGPL-*``) the layer must not ship; see
    #: ``layer_builder.model.license_policy`` for how expressions are judged.
    deny_licenses: tuple[str, ...] = attrs.field(default=(), converter=_denied_licenses)

    def __attrs_post_init__(self) -> None:
        Deflater(backend=self.backend, level=self.compresslevel)  # validates both

    def fingerprint_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"excludes": list(self.excludes)}
        # Only when set, so that the fingerprints of plain layers stay what they were.
        if self.slim:
            fields["slim"] = True
        if self.strip:
            fields["strip"] = True if self.strip_mode == "debug" else self.strip_mode
        if self.compile_bytecode:
            fields["bytecode"] = "unchecked-hash"
        return fields

    @property
    def size_limit(self) -> SizeLimit:
        return SizeLimit(self.max_unzipped_size, self.reserve)


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
    their names (``PyYAML`` installs ``yaml/`` and ``_yaml/``), and only the files it owns. The
    size guard runs on the final sizes (after slimming and stripping) before any byte of the
    zip is written. The run holds the folder lock ``path_lock`` (default: ``.lock`` beside the
    zip, which is ``LayerPathLayout.path_lock`` for the layout's zip).
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
        excludes and slimming. Override to leave more out; count what you leave out in
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
        with FolderLock(self.path_lock, "package"):
            removed = [
                *remove_partials(self.path_zip),
                *remove_partials(self.path_sbom),
                *remove_partials(self.path_contents),
            ]
            if removed:
                self.logger.info("removed what an interrupted run left: %s",
                                 ", ".join(p.name for p in removed))  # fmt: skip
            bytecode.remove_unfinished(self.dir_bytecode_cache)
            try:
                return self._run(build)
            finally:
                # Whatever an interruption left at any instant (a scratch folder made an
                # instant before its cleanup was armed): this run's, as the lock is held.
                remove_partials(self.path_zip)
                remove_partials(self.path_sbom)
                remove_partials(self.path_contents)

    def _run(self, build: BuildResult) -> PackageResult:
        root = build.dir_python
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
        excluded = [d for d in distributions if d.canonical_name in options.excludes]
        kept_distributions = [d for d in distributions if d not in excluded]
        tree = walk_tree(root, owned_files(excluded, kept_distributions))
        files, sizes, modes = tree.files, tree.sizes, tree.modes
        savings: tuple[Saving, ...] = ()
        if options.slim:
            kept, savings = slim(list(sizes.items()))
            files = {relative: files[relative] for relative in kept}
        files = self.select_files(files)
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
            )
        if report.reused:
            self.logger.info("reused %d unchanged members of the previous zip", report.reused)
        if prepare is not None:
            stripped = [
                (sizes[_in_tree(m.name)], m.size)
                for m in report.members
                if is_shared_object(m.name)
            ]
            savings += (strip_saving(stripped, options.strip_mode),)
        if (options.slim or prepare is not None) and options.smoke_test:
            if smoke_test_applies(build.target):
                with self.timed("import smoke test of the slimmed layer"):
                    import_smoke_test(root, self.path_zip, kept_distributions)
            else:
                self.logger.info("no import smoke test: this host cannot run %s",
                                 build.target.description)  # fmt: skip
        result = PackageResult(
            path_zip=self.path_zip,
            sha256=report.sha256,
            zip_size=report.zip_size,
            unzipped_size=sum(m.size for m in report.members),
            files=len(report.members),
            fingerprint=identity.fingerprint,
            identity=identity,
            excluded=tuple(d.name for d in excluded),
            distributions=distribution_sizes(
                ((_in_tree(m.name), m.size, m.compressed_size) for m in report.members),
                owner_of,
            ),
            savings=savings,
            reused=report.reused,
            size_limit=options.size_limit.available,
            licenses=licenses,
            folders=folder_sizes(
                ((_in_tree(m.name), m.size, m.compressed_size) for m in report.members),
                owner_of,
            ),
        )
        subject = LayerSubject(result.sha256, runtime, architecture, result.fingerprint)
        sbom = write_sbom(self.path_sbom, root, kept_distributions, licenses, subject)
        result = attrs.evolve(result, path_sbom=sbom)
        write_contents(self.path_contents, contents_of(result, build.target))
        self.logger.info(
            "wrote %s: %s zipped, %s unzipped, sha256 %s", self.path_zip,
            format_size(result.zip_size), format_size(result.unzipped_size), result.sha256,
        )  # fmt: skip
        return result

    def _add_bytecode(
        self,
        build: BuildResult,
        files: dict[str, Path],
        sizes: dict[str, int],
        owner_of: dict[str, InstalledDistribution],
    ) -> dict[str, Path]:
        """``files`` with a compiled ``.pyc`` for every module (replacing any in the tree)."""
        bytecode.check_target(build.target)
        cache = self.dir_bytecode_cache
        workers = self.options.workers or usable_cpus()
        with self.timed("compiling bytecode (unchecked-hash pycs)"):
            compiled = bytecode.compile_bytecode(files, cache, workers)
        merged = dict(files)
        for pyc, (source, path) in compiled.items():
            merged[pyc] = path
            sizes[pyc] = path.stat().st_size
            if source in owner_of:
                owner_of[pyc] = owner_of[source]
        return dict(sorted(merged.items()))
