"""The few zip records a layer needs, written by hand so that every byte is ours to fix.

Python's ``zipfile`` cannot take data compressed elsewhere (in worker threads, or copied from
the previous zip), so the writer lays out local headers, the central directory and the end
records itself (PKWARE APPNOTE 6.3). No data descriptors, no extra fields, no member
comments: an entry's bytes depend only on its name, mode, method and data. The archive
comment is the caller's (the layer's identity).
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import attrs

from layer_builder.errors import PackageError

STORED = zipfile.ZIP_STORED
DEFLATED = zipfile.ZIP_DEFLATED

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_VERSION = 20  # 2.0: deflate
_MADE_BY = (3 << 8) | _VERSION  # unix, so external_attr carries the permissions
_UTF8_FLAG = 0x800
_MAX32 = 0xFFFFFFFF
_MAX16 = 0xFFFF

#: Offsets of the compression method and the CRC-32 in a local header.
METHOD_OFFSET = 8
CRC_OFFSET = 14


def dos_date_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    """``(dos_time, dos_date)`` for a ``(Y, M, D, h, m, s)`` tuple (even seconds)."""
    year, month, day, hour, minute, second = date_time
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


@attrs.frozen
class Entry:
    """One member as written: what the central directory repeats about it."""

    name: str
    mode: int
    method: int
    crc: int
    compressed_size: int
    size: int
    offset: int

    @property
    def encoded_name(self) -> bytes:
        """The member name as stored: UTF-8 bytes."""
        return self.name.encode("utf-8")

    @property
    def flags(self) -> int:
        """General-purpose flags: the UTF-8 flag when the name is not plain ASCII."""
        return 0 if self.name.isascii() else _UTF8_FLAG

    @property
    def external_attr(self) -> int:
        """Unix mode bits in the high 16 bits, as ``unzip`` and Lambda read them."""
        return (stat.S_IFREG | self.mode) << 16


def local_header(entry: Entry, dos: tuple[int, int]) -> bytes:
    """The local file header that precedes ``entry``'s data."""
    for what, value in (("size", entry.size), ("compressed size", entry.compressed_size)):
        if value > _MAX32:
            raise PackageError(
                f"{entry.name} is {value:,} bytes ({what}), over the 4 GiB a zip member can "
                f"hold without zip64: a Lambda layer cannot use such a file; exclude it"
            )
    name = entry.encoded_name
    return _LOCAL.pack(
        0x04034B50, _VERSION, entry.flags, entry.method, dos[0], dos[1], entry.crc,
        entry.compressed_size, entry.size, len(name), 0,
    ) + name  # fmt: skip


def _central_header(entry: Entry, dos: tuple[int, int]) -> bytes:
    if entry.offset > _MAX32:
        raise PackageError(
            f"the zip grows over 4 GiB at {entry.name}: a Lambda layer is at most 250 MB "
            f"unzipped, so exclude distributions or split the layer"
        )
    name = entry.encoded_name
    return _CENTRAL.pack(
        0x02014B50, _MADE_BY, _VERSION, entry.flags, entry.method, dos[0], dos[1], entry.crc,
        entry.compressed_size, entry.size, len(name), 0, 0, 0, 0, entry.external_attr,
        entry.offset,
    ) + name  # fmt: skip


def write_central_directory(
    out: BinaryIO, entries: Sequence[Entry], dos: tuple[int, int], comment: bytes = b""
) -> None:
    """Write the central directory and the end records (with the archive ``comment``) at
    ``out``'s position."""
    if len(comment) > _MAX16 or b"PK\x05\x06" in comment:
        raise ValueError("a zip comment has at most 65535 bytes and no end-record signature")
    start = out.tell()
    for entry in entries:
        out.write(_central_header(entry, dos))
    size = out.tell() - start
    count = len(entries)
    if count > _MAX16 or start > _MAX32:
        end64 = out.tell()
        out.write(_END64.pack(0x06064B50, 44, _MADE_BY, _VERSION, 0, 0, count, count, size, start))
        out.write(_LOCATOR64.pack(0x07064B50, 0, end64, 1))
    out.write(
        _END.pack(
            0x06054B50, 0, 0, min(count, _MAX16), min(count, _MAX16), min(size, _MAX32),
            min(start, _MAX32), len(comment),
        )
        + comment
    )  # fmt: skip


def copy_data(src: BinaryIO, out: BinaryIO, size: int, what: str) -> int:
    """Copy ``size`` bytes of member data from ``src`` to ``out``; returns their CRC-32."""
    remaining = size
    crc = 0
    while remaining:
        chunk = src.read(min(remaining, 1 << 20))
        if not chunk:
            raise OSError(f"{what} ended {remaining:,} bytes early: did it change while zipping?")
        out.write(chunk)
        crc = zlib.crc32(chunk, crc)
        remaining -= len(chunk)
    return crc


def patch_header(
    out: BinaryIO, offset: int, field: int, value: int | bytes, size: int = -1
) -> None:
    """Rewrite a local header field (the CRC-32, and the compressed size after it when
    ``size`` is given), then go back to the end."""
    out.seek(offset + field)
    out.write(value if isinstance(value, bytes) else value.to_bytes(4, "little"))
    if size >= 0:
        out.write(size.to_bytes(4, "little"))
    out.seek(0, os.SEEK_END)


@attrs.frozen
class StoredMember:
    """A member of an existing zip, as its central directory describes it."""

    name: str
    mode: int
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int


def data_offset(raw: BinaryIO, member: StoredMember) -> int:
    """Where ``member``'s data starts in the open zip ``raw`` (after its local header)."""
    raw.seek(member.header_offset)
    fields = _LOCAL.unpack(raw.read(_LOCAL.size))
    if fields[0] != 0x04034B50:
        raise zipfile.BadZipFile(f"bad local header for {member.name}")
    offset: int = member.header_offset + _LOCAL.size + fields[9] + fields[10]
    return offset


def _end_record(raw: BinaryIO) -> tuple[bytes, int]:
    """The file's tail and where its end of central directory record starts in it."""
    end = raw.seek(0, 2)
    tail_start = max(0, end - _END.size - _MAX16)
    raw.seek(tail_start)
    tail = raw.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _END.size > len(tail):
        raise zipfile.BadZipFile("no end of central directory record")
    return tail, at


def read_comment(path_zip: Path) -> bytes:
    """The archive comment of a zip (``b""`` when it has none)."""
    with path_zip.open("rb") as raw:
        tail, at = _end_record(raw)
    length = _END.unpack_from(tail, at)[7]
    return tail[at + _END.size : at + _END.size + length]


def _central_directory(raw: BinaryIO) -> tuple[int, int, int]:
    """``(offset, size, count)`` of the central directory, from the end records."""
    tail, at = _end_record(raw)
    fields = _END.unpack_from(tail, at)
    count, size, offset = fields[4], fields[5], fields[6]
    locator = at - _LOCATOR64.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        raw.seek(_LOCATOR64.unpack_from(tail, locator)[2])
        end64 = _END64.unpack(raw.read(_END64.size))
        count, size, offset = end64[7], end64[8], end64[9]
    return offset, size, count


def read_members(path_zip: Path) -> dict[str, StoredMember]:
    """The members of a zip by name, in order; raises ``zipfile.BadZipFile`` (or ``OSError``)
    for a file that is not a readable zip. Reads only the central directory."""
    members = {}
    with path_zip.open("rb") as raw:
        offset, size, count = _central_directory(raw)
        raw.seek(offset)
        directory = raw.read(size)
    position = 0
    for _ in range(count):
        fields = _CENTRAL.unpack_from(directory, position)
        if fields[0] != 0x02014B50:
            raise zipfile.BadZipFile(f"bad central directory entry at {offset + position}")
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        start = position + _CENTRAL.size
        raw_name = directory[start : start + name_length]
        name = raw_name.decode("utf-8" if fields[3] & _UTF8_FLAG else "cp437")
        members[name] = StoredMember(
            name=name,
            mode=stat.S_IMODE(fields[15] >> 16),
            method=fields[4],
            crc=fields[7],
            compressed_size=fields[8],
            size=fields[9],
            header_offset=fields[16],
        )
        position = start + name_length + extra_length + comment_length
    return members
