"""How the package step turns the tree into a zip (``PackageOptions``), checked when given."""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from packaging.utils import canonicalize_name

from layer_builder.archive.deflate import DEFAULT_BACKEND, DEFAULT_LEVEL, Deflater
from layer_builder.choices import choice_validator
from layer_builder.errors import ConfigurationError
from layer_builder.model.license_policy import LicensePolicy
from layer_builder.steps.package.size_report import LAMBDA_UNZIPPED_LIMIT, SizeLimit, format_size
from layer_builder.steps.package.slimming import STRIP_MODES, StripMode

#: Provided by the Lambda Python runtime: left out by default, whatever requires them.
RUNTIME_PROVIDED: tuple[str, ...] = ("boto3", "botocore", "s3transfer")
#: Only needed to install packages: left out by default unless a distribution that stays in
#: the layer requires one (``pkg_resources`` is setuptools', and Python 3.12+ bundles none).
BUILD_TOOLS: tuple[str, ...] = ("pip", "setuptools", "wheel")
#: The default list: both of the above (see ``PackageOptions.kept_when_required``).
DEFAULT_EXCLUDES: tuple[str, ...] = tuple(sorted(RUNTIME_PROVIDED + BUILD_TOOLS))


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

    #: Distributions left out, by name. The default list leaves out the build tools only
    #: when nothing kept requires them; a list given by hand replaces it and is followed as
    #: given (with a warning for a name a kept distribution requires).
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

    @property
    def kept_when_required(self) -> tuple[str, ...]:
        """The names of ``excludes`` that stay in the layer when a distribution kept in it
        requires them: the build tools under the default list (whoever gives it: the same
        names make the same options), none of any other list, which is followed as given."""
        return BUILD_TOOLS if self.excludes == DEFAULT_EXCLUDES else ()

    @property
    def always_excluded(self) -> tuple[str, ...]:
        """The names left out whatever requires them."""
        return tuple(n for n in self.excludes if n not in self.kept_when_required)

    def fingerprint_fields(self) -> dict[str, object]:
        """The options that change what the zip holds, for the fingerprint."""
        fields: dict[str, object] = {"excludes": list(self.excludes)}
        # The default list keeps a required build tool; a list given by hand is followed as
        # given, so its layers (and their fingerprints) are what they were.
        if self.kept_when_required:
            fields["kept_when_required"] = list(self.kept_when_required)
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
        """Lambda's unzipped limit and the reserve, as the size guard checks them."""
        return SizeLimit(self.max_unzipped_size, self.reserve)
