"""The distributions installed in a layer tree, read from their ``*.dist-info``."""

from __future__ import annotations

import csv
import io
from pathlib import Path, PurePosixPath

import attrs
from packaging.utils import canonicalize_name

from layer_builder.errors import PackageError


@attrs.frozen
class InstalledDistribution:
    """One distribution in the tree and the files its ``RECORD`` lists (posix, relative)."""

    name: str
    version: str
    dist_info: str
    files: tuple[str, ...] = attrs.field(repr=False, default=())

    @property
    def canonical_name(self) -> str:
        return canonicalize_name(self.name)


def _read_metadata_field(text: str, field: str) -> str:
    prefix = f"{field}:"
    for line in text.splitlines():
        if not line.strip():
            break  # headers end at the first blank line; the body follows
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return ""


def _record_files(dist_info: Path, root: Path) -> tuple[str, ...]:
    record = dist_info / "RECORD"
    if not record.is_file():
        raise PackageError(
            f"{dist_info.relative_to(root)} has no RECORD, so its files cannot be told apart: "
            f"reinstall it with a current pip or uv"
        )
    files = set()
    for row in csv.reader(io.StringIO(record.read_text(encoding="utf-8"))):
        if not row or not row[0]:
            continue
        path = PurePosixPath(row[0])
        # RECORD may point outside the tree (scripts in ../../bin); those are not in the layer.
        if path.is_absolute() or ".." in path.parts:
            continue
        files.add(str(path))
    return tuple(sorted(files))


def find_distributions(dir_python: Path) -> tuple[InstalledDistribution, ...]:
    """Every distribution installed directly in ``dir_python``, sorted by canonical name."""
    found = []
    for dist_info in sorted(dir_python.glob("*.dist-info")):
        metadata_path = dist_info / "METADATA"
        if not metadata_path.is_file():
            continue
        metadata = metadata_path.read_text(encoding="utf-8", errors="replace")
        found.append(
            InstalledDistribution(
                name=_read_metadata_field(metadata, "Name") or dist_info.name.split("-")[0],
                version=_read_metadata_field(metadata, "Version"),
                dist_info=dist_info.name,
                files=_record_files(dist_info, dir_python),
            )
        )
    return tuple(sorted(found, key=lambda d: d.canonical_name))
