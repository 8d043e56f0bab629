"""How big the layer is, per distribution, against Lambda's unzipped limit.

Lambda counts the function's code and all its layers together against 262,144,000 bytes
unzipped, so the guard leaves room for the function (``reserve``), warns from 80 % of what is
left, and refuses a layer over it before anything is written or uploaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from layer_builder.errors import ConfigurationError, LayerTooLargeError
from layer_builder.model.distributions import InstalledDistribution

logger = logging.getLogger(__name__)

#: Lambda's limit for a function and all its layers, unzipped.
LAMBDA_UNZIPPED_LIMIT = 262_144_000

#: From this share of the limit on, packaging warns.
WARN_FRACTION = 0.8

#: The report's name for files no ``RECORD`` lists (written by hand, or by a hook).
UNOWNED = "(not in any RECORD)"


@attrs.frozen
class DistributionSize:
    """One distribution's share of the layer."""

    name: str
    version: str
    files: int
    unzipped_size: int
    zipped_size: int = 0


def format_size(size: int) -> str:
    """``5.3 kB``, ``86.2 MB``: decimal units, as Lambda states its limits."""
    if size < 100_000:
        return f"{size / 1_000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


def owners(distributions: Iterable[InstalledDistribution]) -> dict[str, InstalledDistribution]:
    """Each file of the tree (posix, relative) mapped to the distribution whose RECORD has it."""
    return {f: d for d in distributions for f in d.files}


def _totals(
    members: Iterable[tuple[str, int, int]],
    owner_of: Mapping[str, InstalledDistribution],
    key: Callable[[str, InstalledDistribution | None], tuple[str, str]],
) -> dict[tuple[str, str], list[int]]:
    """Files, unzipped and zipped bytes of ``(relative path, unzipped, zipped)`` members,
    summed per ``key(relative path, owner)``."""
    totals: dict[tuple[str, str], list[int]] = {}
    for relative, size, zipped in members:
        total = totals.setdefault(key(relative, owner_of.get(relative)), [0, 0, 0])
        total[0] += 1
        total[1] += size
        total[2] += zipped
    return totals


def distribution_sizes(
    members: Iterable[tuple[str, int, int]], owner_of: Mapping[str, InstalledDistribution]
) -> tuple[DistributionSize, ...]:
    """Sizes per distribution from ``(relative path, unzipped, zipped)``, largest first."""

    def key(relative: str, owner: InstalledDistribution | None) -> tuple[str, str]:
        return (owner.name, owner.version) if owner else (UNOWNED, "")

    totals = _totals(members, owner_of, key)
    sizes = [DistributionSize(n, v, *t) for (n, v), t in totals.items()]
    return tuple(sorted(sizes, key=lambda s: (-s.unzipped_size, s.name.lower())))


@attrs.frozen
class FolderSize:
    """One top-level folder (or file) of the tree, within the distribution that owns it."""

    distribution: str
    #: ``numpy/``, ``numpy.libs/``, ``six.py``: the first part of each path in the tree.
    folder: str
    files: int
    unzipped_size: int
    zipped_size: int = 0


def folder_sizes(
    members: Iterable[tuple[str, int, int]], owner_of: Mapping[str, InstalledDistribution]
) -> tuple[FolderSize, ...]:
    """Sizes per (distribution, top-level folder) from ``(relative path, unzipped, zipped)``,
    largest first."""

    def key(relative: str, owner: InstalledDistribution | None) -> tuple[str, str]:
        head, slash, _ = relative.partition("/")
        return (owner.name if owner else UNOWNED, head + slash)

    totals = _totals(members, owner_of, key)
    sizes = [FolderSize(d, f, *t) for (d, f), t in totals.items()]
    return tuple(sorted(sizes, key=lambda s: (-s.unzipped_size, s.distribution, s.folder)))


@attrs.frozen
class SizeLimit:
    """What the layer may take of Lambda's unzipped limit."""

    limit: int = LAMBDA_UNZIPPED_LIMIT
    reserve: int = 0

    @property
    def available(self) -> int:
        """The unzipped bytes the layer may take: the limit minus the reserve."""
        return self.limit - self.reserve

    def describe(self) -> str:
        """The limit in words, with the reserve when there is one."""
        if not self.reserve:
            return f"{format_size(self.limit)} limit ({self.limit:,} bytes)"
        return (
            f"{format_size(self.available)} left of the {format_size(self.limit)} limit "
            f"({self.available:,} bytes, after {self.reserve:,} reserved for the function)"
        )

    def check(self, unzipped: int, sizes: Sequence[DistributionSize], where: str) -> None:
        """Raise ``LayerTooLargeError`` over the limit, naming the largest distributions;
        log a warning from ``WARN_FRACTION`` of it."""
        largest = ", ".join(
            f"{s.name} {format_size(s.unzipped_size)}" for s in sizes[:5] if s.unzipped_size
        )
        if unzipped > self.available:
            raise LayerTooLargeError(
                f"the layer in {where} is {format_size(unzipped)} unzipped, over the "
                f"{self.describe()}; largest distributions: {largest}; exclude some "
                f"(--exclude NAME), slim the tree (--slim, --strip) or split them into "
                f"another layer"
            )
        if unzipped >= WARN_FRACTION * self.available:
            logger.warning(
                "the layer is %s unzipped, %.0f %% of the %s: the function and its other "
                "layers share the rest; largest distributions: %s",
                format_size(unzipped), 100 * unzipped / self.available, self.describe(),
                largest,
            )  # fmt: skip


def format_table(sizes: Sequence[DistributionSize]) -> list[str]:
    """The size report as aligned text lines, largest first."""
    if not sizes:
        return []
    width = max(len("distribution"), *(len(f"{s.name} {s.version}".strip()) for s in sizes))
    lines = [f"{'distribution':<{width}}  {'files':>6}  {'unzipped':>10}  {'zipped':>10}"]
    for s in sizes:
        label = f"{s.name} {s.version}".strip()
        lines.append(
            f"{label:<{width}}  {s.files:>6}  {format_size(s.unzipped_size):>10}  "
            f"{format_size(s.zipped_size):>10}"
        )
    return lines


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2}
_UNITS.update({"mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3})


def parse_size(value: str | int) -> int:
    """``52428800``, ``"50MB"``, ``"50 MiB"`` -> bytes (decimal units unless ``iB``)."""
    if isinstance(value, int):
        return value
    text = value.strip().lower().replace(" ", "").replace("_", "")
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :]
    try:
        size = float(number) * _UNITS[unit]
    except (KeyError, ValueError):
        raise ConfigurationError(
            f"invalid size {value!r}: give bytes or a number with kB, MB, GB (or KiB, MiB, "
            f"GiB), e.g. --reserve 20MB"
        ) from None
    if size < 0:
        raise ConfigurationError(f"invalid size {value!r}: it cannot be negative")
    return round(size)
