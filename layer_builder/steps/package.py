"""Step 2: turn the installed tree into ``layer.zip`` with ``python/`` at its root."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable
from pathlib import Path

import attrs
from packaging.utils import canonicalize_name

from layer_builder.deflate import Deflater
from layer_builder.distributions import InstalledDistribution, find_distributions
from layer_builder.errors import LayerTooLargeError
from layer_builder.fingerprint import compute_fingerprint
from layer_builder.steps.base import Step
from layer_builder.steps.build import BuildResult
from layer_builder.zipper import write_reproducible_zip

#: Provided by the Lambda Python runtime, or only needed to install: left out by default.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "boto3",
    "botocore",
    "pip",
    "s3transfer",
    "setuptools",
    "wheel",
)

#: Lambda's limit for a function and all its layers, unzipped.
LAMBDA_UNZIPPED_LIMIT = 262_144_000

ZIP_ROOT = "python"


def _canonical_names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({canonicalize_name(n) for n in names}))


@attrs.frozen
class PackageOptions:
    """How the tree becomes a zip. Only ``excludes`` changes the layer's content, so only it
    is part of the build fingerprint."""

    excludes: tuple[str, ...] = attrs.field(default=DEFAULT_EXCLUDES, converter=_canonical_names)
    #: 0 (store) to 9 (12 with libdeflate); 6 is within 1 % of ``zip -9`` on real layers.
    compresslevel: int = 6
    max_unzipped_size: int = LAMBDA_UNZIPPED_LIMIT
    #: ``zlib`` or ``zlib-ng`` (extra ``[fast]``): each gives its own reproducible bytes.
    backend: str = "zlib"
    #: Compression threads; None means every core. Never changes the bytes.
    workers: int | None = None
    #: Copy unchanged members from the previous zip instead of compressing them again.
    incremental: bool = True

    def __attrs_post_init__(self) -> None:
        Deflater(backend=self.backend, level=self.compresslevel)  # validates both

    def fingerprint_fields(self) -> dict[str, object]:
        return {"excludes": list(self.excludes)}


@attrs.frozen
class PackageResult:
    """The zip written, and what went into it."""

    path_zip: Path
    sha256: str
    zip_size: int
    unzipped_size: int
    files: int
    fingerprint: str
    excluded: tuple[str, ...] = ()

    @classmethod
    def from_zip(cls, path_zip: Path, fingerprint: str) -> PackageResult:
        """Describe an existing ``layer.zip`` (to upload a zip packaged earlier)."""
        with zipfile.ZipFile(path_zip) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
        return cls(
            path_zip=path_zip,
            sha256=_sha256_file(path_zip),
            zip_size=path_zip.stat().st_size,
            unzipped_size=sum(i.file_size for i in members),
            files=len(members),
            fingerprint=fingerprint,
        )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _format_mb(size: int) -> str:
    if size < 100_000:
        return f"{size / 1_000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


class PackageStep(Step):
    """Zips ``BuildResult.dir_python`` reproducibly, leaving out excluded distributions.

    Exclusion goes by each distribution's ``RECORD``, so a distribution's files go whatever
    their names (``PyYAML`` installs ``yaml/`` and ``_yaml/``).
    """

    name = "package"

    def __init__(self, path_zip: Path, options: PackageOptions | None = None):
        self.path_zip = path_zip
        self.options = options or PackageOptions()

    def run(self, build: BuildResult) -> PackageResult:
        root = build.dir_python
        distributions = find_distributions(root)
        excluded = [d for d in distributions if d.canonical_name in self.options.excludes]
        skipped = {f for d in excluded for f in d.files}
        entries = []
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and relative not in skipped:
                entries.append((f"{ZIP_ROOT}/{relative}", path))
        unzipped_size = sum(p.stat().st_size for _, p in entries)
        self._check_size(unzipped_size, root, distributions, skipped)
        if excluded:
            self.logger.info("leaving out %s", ", ".join(d.name for d in excluded))
        with self.timed(f"zipping {len(entries)} files ({_format_mb(unzipped_size)})"):
            report = write_reproducible_zip(
                entries,
                self.path_zip,
                self.options.compresslevel,
                backend=self.options.backend,
                workers=self.options.workers,
                incremental=self.options.incremental,
            )
        if report.reused:
            self.logger.info("reused %d unchanged members of the previous zip", report.reused)
        result = PackageResult(
            path_zip=self.path_zip,
            sha256=report.sha256,
            zip_size=report.zip_size,
            unzipped_size=unzipped_size,
            files=len(entries),
            fingerprint=compute_fingerprint(
                build.manifest, build.target, self.options.fingerprint_fields()
            ),
            excluded=tuple(d.name for d in excluded),
        )
        self.logger.info(
            "wrote %s: %s zipped, sha256 %s", self.path_zip, _format_mb(result.zip_size),
            result.sha256,
        )  # fmt: skip
        return result

    def _check_size(
        self,
        unzipped_size: int,
        root: Path,
        distributions: tuple[InstalledDistribution, ...],
        skipped: set[str],
    ) -> None:
        limit = self.options.max_unzipped_size
        if unzipped_size <= limit:
            return
        sizes = []
        for dist in distributions:
            if dist.canonical_name in self.options.excludes:
                continue
            kept = [root / f for f in dist.files if f not in skipped and (root / f).is_file()]
            sizes.append((sum(p.stat().st_size for p in kept), dist.name))
        largest = ", ".join(f"{name} {_format_mb(size)}" for size, name in sorted(sizes)[::-1][:5])
        raise LayerTooLargeError(
            f"the layer in {root} is {_format_mb(unzipped_size)} unzipped, over the "
            f"{_format_mb(limit)} limit ({limit:,} bytes); largest distributions: {largest}; "
            f"exclude some (--exclude NAME) or split them into another layer"
        )
