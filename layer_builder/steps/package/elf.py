"""What a dynamic loader checks in a shared object, read from its ELF headers with ``struct``.

``--strip`` rewrites copies of shared objects. GNU strip lays a file out again from its
sections, and a file that patchelf edited (auditwheel's vendored libraries) can hold loadable
segments no section describes: strip then writes them where the loader refuses them
("ELF load command address/offset not page-aligned"). This module reads the ELF header, the
program headers and the section headers (never the rest of the file), ELF32 or ELF64 in
either byte order, and gives a verdict on the original (would strip preserve it?) and on the
copy (would it load as the original does?). A verdict is None when all is well, else one line
saying why, for the log.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import attrs

from layer_builder.errors import PackageError

PT_LOAD = 1
_SHF_ALLOC = 0x2
_SHT_NOBITS = 8
#: ``e_phnum`` saying that the real count is in section 0's ``sh_info``.
_PN_XNUM = 0xFFFF

#: The smallest page the loaders of Lambda's runtimes map with (4 KiB on x86_64 and arm64):
#: glibc refuses a LOAD segment whose file offset and address differ modulo the page size.
PAGE_SIZE = 4096

_SEGMENT_NAMES = {
    0: "NULL", 1: "LOAD", 2: "DYNAMIC", 3: "INTERP", 4: "NOTE", 5: "SHLIB", 6: "PHDR",
    7: "TLS", 0x6474E550: "GNU_EH_FRAME", 0x6474E551: "GNU_STACK", 0x6474E552: "GNU_RELRO",
    0x6474E553: "GNU_PROPERTY",
}  # fmt: skip


@attrs.frozen
class _Layout:
    """The struct formats of one ELF class (after the 16 bytes of ``e_ident``)."""

    name: str
    header: str  # e_type ... e_shstrndx
    segment: str  # a program header, fields in file order
    section: str  # a section header

    @property
    def header_size(self) -> int:
        return 16 + struct.calcsize("<" + self.header)


_ELF32 = _Layout("ELF32", "HHIIIIIHHHHHH", "IIIIIIII", "IIIIIIIIII")
_ELF64 = _Layout("ELF64", "HHIQQQIHHHHHH", "IIQQQQQQ", "IIQQQQIIQQ")


def segment_name(kind: int) -> str:
    """``LOAD``, ``GNU_STACK`` ... as readelf names a program header's type."""
    return _SEGMENT_NAMES.get(kind, f"0x{kind:x}")


@attrs.frozen
class Segment:
    """One program header."""

    kind: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    flags: int
    align: int

    @property
    def name(self) -> str:
        """Its type as readelf names it."""
        return segment_name(self.kind)


@attrs.frozen
class Section:
    """What the checks need of one section header."""

    kind: int
    flags: int
    offset: int
    size: int

    @property
    def has_file_bytes(self) -> bool:
        """Loaded, and stored in the file (``.bss`` is not)."""
        return bool(self.flags & _SHF_ALLOC) and self.kind != _SHT_NOBITS and self.size > 0


@attrs.frozen
class ElfHeaders:
    """The program and section headers of one ELF file, and its size."""

    file_size: int
    segments: tuple[Segment, ...]
    sections: tuple[Section, ...]


def _read(stream: BinaryIO, offset: int, size: int) -> bytes:
    stream.seek(offset)
    return stream.read(size)


def _table(
    stream: BinaryIO, what: str, start: int, count: int, entry: int, file_size: int
) -> list[bytes]:
    end = start + count * entry
    if end > file_size:
        raise PackageError(
            f"the {what} headers (bytes {start:#x}-{end:#x}) end past the end of the file "
            f"({file_size:,} bytes)"
        )
    data = _read(stream, start, end - start)
    return [data[i * entry : (i + 1) * entry] for i in range(count)]


def _check_entries(what: str, entry: int, count: int, needed: int, layout: _Layout) -> None:
    if count and entry < needed:
        raise PackageError(
            f"{what} header entries of {entry} bytes, smaller than an {layout.name} one "
            f"({needed} bytes)"
        )


def read_headers(stream: BinaryIO) -> ElfHeaders:
    """The headers of the ELF file open in ``stream`` (binary, seekable); a ``PackageError``
    saying what is wrong when it is not an ELF file or its headers leave the file."""
    file_size = stream.seek(0, 2)
    ident = _read(stream, 0, 16)
    if len(ident) < 16 or ident[:4] != b"\x7fELF":
        raise PackageError("not an ELF file")
    layout = {1: _ELF32, 2: _ELF64}.get(ident[4])
    if layout is None:
        raise PackageError(f"unknown ELF class {ident[4]}")
    order = {1: "<", 2: ">"}.get(ident[5])
    if order is None:
        raise PackageError(f"unknown ELF byte order {ident[5]}")
    if file_size < layout.header_size:
        raise PackageError(
            f"truncated: {file_size:,} bytes, shorter than an {layout.name} header "
            f"({layout.header_size} bytes)"
        )
    fields = struct.unpack(order + layout.header, _read(stream, 16, layout.header_size - 16))
    phoff, shoff = fields[4], fields[5]
    phentsize, phnum, shentsize, shnum = fields[8], fields[9], fields[10], fields[11]
    section_format = struct.Struct(order + layout.section)
    segment_format = struct.Struct(order + layout.segment)
    _check_entries("program", phentsize, phnum, segment_format.size, layout)
    _check_entries("section", shentsize, shnum, section_format.size, layout)
    if shoff and (shnum == 0 or phnum == _PN_XNUM):
        # Extended numbering: the real counts are in section 0 (sh_size, sh_info).
        (first,) = _table(stream, "section", shoff, 1, section_format.size, file_size)
        zeroth = section_format.unpack(first)
        shnum = shnum or zeroth[5]
        phnum = zeroth[7] if phnum == _PN_XNUM else phnum
    segments = []
    for raw in _table(stream, "program", phoff, phnum, phentsize, file_size):
        values = segment_format.unpack(raw[: segment_format.size])
        if layout is _ELF64:
            kind, flags, offset, vaddr, _, filesz, memsz, align = values
        else:
            kind, offset, vaddr, _, filesz, memsz, flags, align = values
        segments.append(Segment(kind, offset, vaddr, filesz, memsz, flags, align))
    sections = []
    for raw in _table(stream, "section", shoff, shnum if shoff else 0, shentsize, file_size):
        values = section_format.unpack(raw[: section_format.size])
        sections.append(Section(values[1], values[2], values[4], values[5]))
    return ElfHeaders(file_size, tuple(segments), tuple(sections))


def read_headers_of(path: Path) -> ElfHeaders:
    """``read_headers`` of the file at ``path``."""
    with path.open("rb") as stream:
        return read_headers(stream)


def load_problem(headers: ElfHeaders) -> str | None:
    """Why a loader would refuse this file's segments, or None: every segment's bytes inside
    the file; each LOAD aligned to a power of two, its offset and address congruent modulo
    that alignment and the page size."""
    for index, segment in enumerate(headers.segments):
        end = segment.offset + segment.filesz
        if segment.filesz and end > headers.file_size:
            return (
                f"{segment.name} segment {index} (bytes {segment.offset:#x}-{end:#x}) ends "
                f"past the end of the file ({headers.file_size:,} bytes)"
            )
        if segment.kind != PT_LOAD:
            continue
        align = segment.align
        if align & (align - 1):
            return f"LOAD segment {index} has an alignment of {align:#x}, not a power of two"
        modulus = max(align, PAGE_SIZE)
        if (segment.vaddr - segment.offset) % modulus:
            return (
                f"LOAD segment {index} is misaligned: offset {segment.offset:#x} and address "
                f"{segment.vaddr:#x} differ modulo {modulus:#x}"
            )
    return None


def strip_would_break(headers: ElfHeaders) -> str | None:
    """Why strip would not preserve this file's layout, or None.

    Strip writes a file again from its sections: a LOAD segment holding file bytes that no
    section describes (patchelf leaves them when it moves ``.dynstr`` or ``.dynamic``) has
    nothing strip keeps it by, and a file without section headers nothing to rebuild it from.
    """
    if not headers.sections:
        return "it has no section headers, from which strip writes the file again"
    stored = [s for s in headers.sections if s.has_file_bytes]
    for index, segment in enumerate(headers.segments):
        if segment.kind != PT_LOAD or not segment.filesz:
            continue
        start, end = segment.offset, segment.offset + segment.filesz
        if not any(s.offset < end and start < s.offset + s.size for s in stored):
            return (
                f"LOAD segment {index} (bytes {start:#x}-{end:#x}) holds no section, a layout "
                f"patchelf leaves and strip does not preserve"
            )
    return None


def copy_problem(original: ElfHeaders, copy: ElfHeaders) -> str | None:
    """Why ``copy`` (stripped) would not load as ``original`` does, or None: the same number
    and kinds of segments, LOAD segments at the same addresses with the same permissions,
    and nothing a loader refuses (``load_problem``)."""
    kinds = [s.name for s in original.segments], [s.name for s in copy.segments]
    if len(kinds[0]) != len(kinds[1]):
        return f"the copy has {len(kinds[1])} segments, the original {len(kinds[0])}"
    for index, (before, after) in enumerate(zip(original.segments, copy.segments, strict=True)):
        if before.kind != after.kind:
            return f"segment {index} is {after.name} in the copy, {before.name} in the original"
        if before.kind == PT_LOAD and (before.vaddr, before.flags) != (after.vaddr, after.flags):
            return (
                f"LOAD segment {index} is mapped at {after.vaddr:#x} (flags {after.flags:#x}) "
                f"in the copy, at {before.vaddr:#x} (flags {before.flags:#x}) in the original"
            )
    problem = load_problem(copy)
    return None if problem is None else f"in the copy, {problem}"


def stripped_copy_problem(original: ElfHeaders, path_copy: Path) -> str | None:
    """``copy_problem`` of the file at ``path_copy``, or why its headers cannot be read."""
    try:
        copy = read_headers_of(path_copy)
    except PackageError as exc:
        return f"the copy is unreadable: {exc}"
    return copy_problem(original, copy)
