"""The distributions installed in a layer tree, read from their ``*.dist-info``."""

from __future__ import annotations

import csv
import io
import logging
import posixpath
from collections.abc import Iterable
from pathlib import Path

import attrs
from packaging.utils import canonicalize_name

from layer_builder.errors import PackageError

logger = logging.getLogger(__name__)


@attrs.frozen
class InstalledDistribution:
    """One distribution in the tree and the files its ``RECORD`` lists (posix, relative)."""

    name: str
    version: str
    dist_info: str
    files: tuple[str, ...] = attrs.field(repr=False, default=())

    @property
    def canonical_name(self) -> str:
        """The name normalised as PEP 503 says (``Tiny_YAML`` -> ``tiny-yaml``)."""
        return canonicalize_name(self.name)


def _read_metadata_field(text: str, field: str) -> str:
    prefix = f"{field}:"
    for line in text.splitlines():
        if not line.strip():
            break  # headers end at the first blank line; the body follows
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return ""


def _record_path(entry: str) -> str | None:
    """A RECORD entry as a normalised path relative to the tree, or None when it leaves the
    tree (``../../bin/tool``, ``/usr/bin/tool``) or names the tree itself."""
    drive = len(entry) > 2 and entry[0].isalpha() and entry[1] == ":" and entry[2] in "/\\"
    if entry.startswith(("/", "\\")) or drive:
        return None
    normal = posixpath.normpath(entry)
    if normal in (".", "..") or normal.startswith("../"):
        return None
    return normal


def _record_files(dist_info: Path, root: Path) -> tuple[str, ...]:
    record = dist_info / "RECORD"
    where = record.relative_to(root)
    if not record.is_file():
        raise PackageError(
            f"{dist_info.relative_to(root)} has no RECORD, so its files cannot be told apart: "
            f"reinstall it with a current pip or uv"
        )
    try:
        text = record.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackageError(
            f"{where} is not valid UTF-8 (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}), so its files cannot be told apart: reinstall the distribution "
            f"with a current pip or uv"
        ) from None
    except OSError as exc:
        raise PackageError(
            f"cannot read {record} ({exc.strerror}): make it readable or build again"
        ) from None
    if "\0" in text:  # before csv, whose own message differs between Python versions
        raise PackageError(
            f"{where} is malformed at line {text[: text.index(chr(0))].count(chr(10)) + 1} (a "
            f"path holds a NUL character), so its files cannot be told apart: reinstall the "
            f"distribution with a current pip or uv"
        )
    files = set()
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        for row in reader:
            if not row or not row[0]:
                continue
            path = _record_path(row[0])
            if path is None:
                # Scripts and data installed beside the tree (../../bin): not in the layer.
                logger.debug("%s lists %r, outside the tree: ignored", where, row[0])
                continue
            files.add(path)
    except csv.Error as exc:
        raise PackageError(
            f"{where} is malformed at line {reader.line_num} ({exc}), so its files cannot be "
            f"told apart: reinstall the distribution with a current pip or uv"
        ) from None
    return tuple(sorted(files))


def owned_files(
    excluded: Iterable[InstalledDistribution], kept: Iterable[InstalledDistribution]
) -> set[str]:
    """The files that leave the tree with the ``excluded`` distributions: those their RECORD
    lists, except files a ``kept`` distribution's RECORD lists too (a namespace package's
    ``__init__.py``) and files in another distribution's ``*.dist-info`` folder."""
    kept = list(kept)
    shared = {f for d in kept for f in d.files}
    others = {d.dist_info for d in kept}
    owned = set()
    for dist in excluded:
        for relative in dist.files:
            if relative in shared or relative.split("/", 1)[0] in others:
                continue
            owned.add(relative)
    return owned


def find_distributions(dir_python: Path) -> tuple[InstalledDistribution, ...]:
    """Every distribution installed directly in ``dir_python``, sorted by canonical name."""
    found = []
    for dist_info in sorted(dir_python.glob("*.dist-info")):
        metadata_path = dist_info / "METADATA"
        if not metadata_path.is_file():
            continue
        try:
            metadata = metadata_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise PackageError(
                f"cannot read {metadata_path} ({exc.strerror}): make it readable or build again"
            ) from None
        found.append(
            InstalledDistribution(
                name=_read_metadata_field(metadata, "Name") or dist_info.name.split("-")[0],
                version=_read_metadata_field(metadata, "Version"),
                dist_info=dist_info.name,
                files=_record_files(dist_info, dir_python),
            )
        )
    return tuple(sorted(found, key=lambda d: d.canonical_name))
