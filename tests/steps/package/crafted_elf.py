"""ELF bytes crafted header by header, for the reader's tests and the strip tests."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from layer_builder.steps.package.elf import Section, Segment

LOAD, DYNAMIC, GNU_STACK = 1, 2, 0x6474E551
R, RW, RX = 4, 6, 5
ALLOC, PROGBITS, NOBITS = 0x2, 1, 8

#: A small library as a linker lays it out: read-only, code and data segments, page-aligned.
ALIGNED = (
    Segment(LOAD, 0x0, 0x0, 0x800, 0x800, R, 0x1000),
    Segment(LOAD, 0x1000, 0x1000, 0x400, 0x400, RX, 0x1000),
    Segment(LOAD, 0x1E00, 0x2E00, 0x200, 0x300, RW, 0x1000),
    Segment(DYNAMIC, 0x1E80, 0x2E80, 0x100, 0x100, RW, 0x8),
    Segment(GNU_STACK, 0, 0, 0, 0, RW, 0x10),
)
SECTIONS = (
    Section(PROGBITS, ALLOC, 0x200, 0x600),  # .dynsym ...
    Section(PROGBITS, ALLOC | 0x4, 0x1000, 0x400),  # .text
    Section(PROGBITS, ALLOC | 0x1, 0x1E00, 0x200),  # .data
    Section(NOBITS, ALLOC | 0x1, 0x2000, 0x100),  # .bss: no file bytes
    Section(PROGBITS, 0, 0x2000, 0x80),  # .comment: not loaded
)
FILE_SIZE = 0x3000


def craft(
    segments: Sequence[Segment],
    sections: Sequence[Section] = (),
    *,
    bits: int = 64,
    order: str = "<",
    size: int = FILE_SIZE,
    phnum: int | None = None,
) -> bytes:
    """ELF bytes with these program and section headers, zero-padded to ``size``."""
    ident = b"\x7fELF" + bytes([bits // 32, 1 if order == "<" else 2, 1]) + bytes(9)
    header, segment, section = (
        ("HHIQQQIHHHHHH", "IIQQQQQQ", "IIQQQQIIQQ")
        if bits == 64
        else ("HHIIIIIHHHHHH", "IIIIIIII", "IIIIIIIIII")
    )
    header_size = 16 + struct.calcsize(order + header)
    ph_size, sh_size = struct.calcsize(order + segment), struct.calcsize(order + section)
    phoff = header_size
    shoff = phoff + len(segments) * ph_size if sections else 0
    out = bytearray(ident)
    count = len(segments) if phnum is None else phnum
    out += struct.pack(order + header, 3, 62, 1, 0, phoff, shoff, 0, header_size, ph_size,
                       count, sh_size, len(sections), 0)  # fmt: skip
    for s in segments:
        fields = (
            (s.kind, s.flags, s.offset, s.vaddr, s.vaddr, s.filesz, s.memsz, s.align)
            if bits == 64
            else (s.kind, s.offset, s.vaddr, s.vaddr, s.filesz, s.memsz, s.flags, s.align)
        )
        out += struct.pack(order + segment, *fields)
    for sec in sections:
        out += struct.pack(order + section, 0, sec.kind, sec.flags, 0, sec.offset, sec.size,
                           0, 0, 1, 0)  # fmt: skip
    return bytes(out.ljust(size, b"\0"))
