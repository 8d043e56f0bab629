"""The saved state of the local AWS endpoint: what is in it, and how it lies on disk.

``state.jsonl`` (the path given) is JSON Lines: a header line naming the format, then one
line per bucket, object, layer and SSM parameter. Object bodies and layer zips are not in it:
each distinct content is one file of ``state.blobs/``, named by its sha256, so bytes held by
several objects and layer versions are stored once, and an unchanged blob is never written
again.

A save writes the new blobs (each through a partial file, flushed to disk, then renamed),
then the state file (the same way), then deletes the blobs the new state no longer names: a
crash at any point leaves a state whose blobs all exist, the previous one or the new one.
Saves and loads of one state hold ``state.blobs/lock`` (``flock``), so that two processes
never delete each other's blobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import attrs
from attrs.validators import deep_iterable, deep_mapping, instance_of, optional

from layer_builder.archive.safe_files import (
    create_partial,
    remove_entry,
    remove_partials,
    replacing,
)

FORMAT = "layer-builder local AWS state"
#: The version of the format this module writes (and the only one it reads).
VERSION = 1

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

_str = instance_of(str)
_int = instance_of(int)
_opt_str = optional(instance_of(str))
_str_map = deep_mapping(key_validator=_str, value_validator=_str)
_str_tuple = deep_iterable(member_validator=_str, iterable_validator=instance_of(tuple))


def _sha256(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValueError(f"not a sha256: {value!r}")


@attrs.frozen
class StoredBucket:
    """A bucket: its region and versioning status (``Enabled``, ``Suspended`` or None)."""

    name: str = attrs.field(validator=_str)
    region: str = attrs.field(validator=_str)
    versioning: str | None = attrs.field(default=None, validator=_opt_str)


@attrs.frozen
class StoredObject:
    """The current version of an object: its body's blob and what S3 tells about it."""

    bucket: str = attrs.field(validator=_str)
    key: str = attrs.field(validator=_str)
    sha256: str = attrs.field(validator=_sha256)
    size: int = attrs.field(validator=_int)
    content_type: str | None = attrs.field(default=None, validator=_opt_str)
    metadata: Mapping[str, str] = attrs.field(factory=dict, validator=_str_map)
    tags: Mapping[str, str] = attrs.field(factory=dict, validator=_str_map)
    #: The checksum algorithm S3 keeps for it (``SHA256``, ``CRC32``...), if any.
    checksum: str | None = attrs.field(default=None, validator=_opt_str)
    #: ``ServerSideEncryption`` and ``SSEKMSKeyId``, as HeadObject gives them.
    encryption: Mapping[str, str] = attrs.field(factory=dict, validator=_str_map)
    #: ``CacheControl``, ``ContentDisposition``, ``ContentEncoding``, ``ContentLanguage``.
    headers: Mapping[str, str] = attrs.field(factory=dict, validator=_str_map)


def _statements(values: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return tuple(values)


@attrs.frozen
class StoredLayerVersion:
    """One live version of a layer, with the statements of its policy."""

    version: int = attrs.field(validator=_int)
    sha256: str = attrs.field(validator=_sha256)
    size: int = attrs.field(validator=_int)
    description: str = attrs.field(default="", validator=_str)
    runtimes: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=_str_tuple)
    architectures: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=_str_tuple)
    license_info: str = attrs.field(default="", validator=_str)
    statements: tuple[Mapping[str, Any], ...] = attrs.field(
        default=(),
        converter=_statements,
        validator=deep_iterable(member_validator=instance_of(dict)),
    )


def _versions(values: Iterable[Any]) -> tuple[StoredLayerVersion, ...]:
    return tuple(v if isinstance(v, StoredLayerVersion) else StoredLayerVersion(**v)
                 for v in values)  # fmt: skip


@attrs.frozen
class StoredLayer:
    """A layer of one region: its live versions and the highest version number it reached
    (versions deleted since are the gaps between them)."""

    region: str = attrs.field(validator=_str)
    name: str = attrs.field(validator=_str)
    last_version: int = attrs.field(validator=_int)
    versions: tuple[StoredLayerVersion, ...] = attrs.field(default=(), converter=_versions)


@attrs.frozen
class StoredParameter:
    """An SSM parameter (its value, whatever its type, in plain text)."""

    region: str = attrs.field(validator=_str)
    name: str = attrs.field(validator=_str)
    type: str = attrs.field(validator=_str)
    value: str = attrs.field(validator=_str)
    description: str | None = attrs.field(default=None, validator=_opt_str)
    key_id: str | None = attrs.field(default=None, validator=_opt_str)
    data_type: str | None = attrs.field(default=None, validator=_opt_str)
    tier: str | None = attrs.field(default=None, validator=_opt_str)
    allowed_pattern: str | None = attrs.field(default=None, validator=_opt_str)


_KINDS: dict[str, type[Any]] = {
    "bucket": StoredBucket,
    "object": StoredObject,
    "layer": StoredLayer,
    "parameter": StoredParameter,
}


@attrs.frozen
class LocalState:
    """Everything the endpoint keeps between runs."""

    buckets: tuple[StoredBucket, ...] = ()
    objects: tuple[StoredObject, ...] = ()
    layers: tuple[StoredLayer, ...] = ()
    parameters: tuple[StoredParameter, ...] = ()

    def blobs(self) -> set[str]:
        """The sha256 of every blob the state names."""
        return {o.sha256 for o in self.objects} | {
            v.sha256 for layer in self.layers for v in layer.versions
        }

    def sizes(self) -> dict[str, int]:
        """The size each named blob must have."""
        found = {o.sha256: o.size for o in self.objects}
        found.update((v.sha256, v.size) for layer in self.layers for v in layer.versions)
        return found

    def regions(self) -> set[str]:
        """Every region the state holds something in."""
        return (
            {b.region for b in self.buckets}
            | {layer.region for layer in self.layers}
            | {p.region for p in self.parameters}
        )

    def to_bytes(self) -> bytes:
        """The state file's content."""
        lines = [json.dumps({"format": FORMAT, "version": VERSION})]
        for kind, records in (("bucket", self.buckets), ("object", self.objects),
                              ("layer", self.layers), ("parameter", self.parameters)):  # fmt: skip
            lines.extend(json.dumps({"kind": kind, **attrs.asdict(r)}) for r in records)
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> LocalState:
        """The records of a state file's lines after the header; ``ValueError`` on a line
        that is not one."""
        found: dict[str, list[Any]] = {kind: [] for kind in _KINDS}
        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                kind = data.pop("kind")
                if kind not in _KINDS:
                    raise ValueError(f"unknown kind {kind!r}")
                found[kind].append(_KINDS[kind](**data))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # attrs' validators put the words first, then the attribute and the value.
                why = exc.args[0] if exc.args else type(exc).__name__
                raise ValueError(f"line {number} is not a record ({why})") from None
        return cls(
            tuple(found["bucket"]),
            tuple(found["object"]),
            tuple(found["layer"]),
            tuple(found["parameter"]),
        )


class StateFormatError(Exception):
    """The state file is not one this version can use; the message says why, in words."""

    def __init__(self, message: str, replace: bool = True):
        super().__init__(message)
        #: Whether saving over it is right (False: a newer format, to be left alone).
        self.replace = replace


def parse_state(data: bytes) -> LocalState:
    """The state in a state file's bytes; ``StateFormatError`` when it holds another thing."""
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise StateFormatError("it is not text") from None
    if not any(line.strip() for line in lines):
        return LocalState()
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict):
        raise StateFormatError("its first line is not a JSON object")
    if "method" in header and "url" in header:
        raise StateFormatError(
            "it is a request log of an older layer-builder, which this one no longer replays"
        )
    if header.get("format") != FORMAT:
        raise StateFormatError("it does not start with the state's header")
    version = header.get("version")
    if not isinstance(version, int):
        raise StateFormatError("its header has no format version")
    if version > VERSION:
        raise StateFormatError(
            f"it was written by a newer layer-builder (format {version}; this one reads {VERSION})",
            replace=False,
        )
    try:
        return LocalState.from_lines(lines[1:])
    except ValueError as exc:
        raise StateFormatError(str(exc)) from None


class BlobStore:
    """Content-addressed files: ``<folder>/<sha256>``."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` is (checked to be a sha256: never another path)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.folder / sha256

    def has(self, sha256: str, size: int | None = None) -> bool:
        """Whether the blob is there (with ``size`` bytes, when given)."""
        try:
            st = self.path(sha256).stat()
        except OSError:
            return False
        return size is None or st.st_size == size

    def open(self, sha256: str) -> BinaryIO:
        """The blob, open for reading."""
        return self.path(sha256).open("rb")

    def add(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store the bytes of ``chunks``; their sha256 and size. Content already there is
        not written again; new content is on disk before it gets its name."""
        digest = hashlib.sha256()
        size = 0
        partial, out = create_partial(self.folder / "blob")
        try:
            with out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            if self.has(sha256, size):
                remove_entry(partial)
            else:
                os.replace(partial, self.path(sha256))
        except BaseException:
            remove_entry(partial)
            raise
        return sha256, size

    def collect(self, keep: set[str]) -> int:
        """Delete the blobs not in ``keep`` and the partial files of interrupted saves;
        returns how many blobs went. Only under ``lock()``."""
        remove_partials(self.folder / "blob")
        removed = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self.folder) as entries:
            for entry in entries:
                if _SHA256.fullmatch(entry.name) and entry.name not in keep:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                    removed += 1
        return removed

    def sync(self) -> None:
        """Make the names of the blobs added so far durable (their bytes already are)."""
        sync_folder(self.folder)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``<folder>/lock`` (an exclusive ``flock``, released by the kernel however the
        holder ends; no lock where the platform has no ``fcntl``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o666)
        try:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - Windows
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that the renames in it survive a crash of the machine (where the
    platform can open a folder at all)."""
    try:
        fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to sync a folder: nothing more to do
        pass
    finally:
        os.close(fd)


def write_state(path: Path, state: LocalState) -> None:
    """Swap ``state`` in at ``path`` whole, on disk before it replaces the previous one."""
    with replacing(path) as out:
        out.write(state.to_bytes())
        out.flush()
        os.fsync(out.fileno())
    sync_folder(path.parent)
