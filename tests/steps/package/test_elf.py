"""The ELF header reader and its verdicts, on crafted headers and on a real shared object."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from layer_builder.errors import PackageError
from layer_builder.steps.package.elf import (
    ElfHeaders,
    Section,
    Segment,
    copy_problem,
    load_problem,
    read_headers,
    read_headers_of,
    strip_would_break,
    stripped_copy_problem,
)
from tests.steps.package.crafted_elf import (
    ALIGNED,
    DYNAMIC,
    FILE_SIZE,
    GNU_STACK,
    LOAD,
    RW,
    RX,
    SECTIONS,
    R,
    craft,
)


def headers(data: bytes) -> ElfHeaders:
    return read_headers(io.BytesIO(data))


def error_of(data: bytes) -> str:
    with pytest.raises(PackageError) as caught:
        headers(data)
    return str(caught.value)


@pytest.mark.parametrize(("bits", "order"), [(64, "<"), (64, ">"), (32, "<"), (32, ">")])
def test_reads_each_class_and_byte_order(bits: int, order: str) -> None:
    read = headers(craft(ALIGNED, SECTIONS, bits=bits, order=order))
    assert read == ElfHeaders(FILE_SIZE, ALIGNED, SECTIONS)
    assert load_problem(read) is None
    assert strip_would_break(read) is None
    assert copy_problem(read, read) is None


def test_a_misaligned_load_segment_is_refused() -> None:
    shifted = list(ALIGNED)
    shifted[2] = Segment(LOAD, 0x1F84, 0x2E00, 0x200, 0x300, RW, 0x1000)
    assert load_problem(headers(craft(shifted, SECTIONS))) == (
        "LOAD segment 2 is misaligned: offset 0x1f84 and address 0x2e00 differ modulo 0x1000"
    )


def test_an_alignment_that_is_not_a_power_of_two_is_refused() -> None:
    odd = [Segment(LOAD, 0x0, 0x0, 0x800, 0x800, R, 0x1800)]
    assert load_problem(headers(craft(odd))) == (
        "LOAD segment 0 has an alignment of 0x1800, not a power of two"
    )


def test_a_small_alignment_still_needs_page_congruence() -> None:
    """glibc maps pages: offset and address must agree modulo the page, whatever p_align."""
    small = [Segment(LOAD, 0x1010, 0x2020, 0x10, 0x10, RW, 0x10)]
    assert load_problem(headers(craft(small))) == (
        "LOAD segment 0 is misaligned: offset 0x1010 and address 0x2020 differ modulo 0x1000"
    )
    for align in (0, 1, 0x10):  # no alignment asked, or a small one: the page decides
        congruent = [Segment(LOAD, 0x1010, 0x3010, 0x10, 0x10, RW, align)]
        assert load_problem(headers(craft(congruent))) is None


def test_a_segment_past_the_end_of_the_file_is_refused() -> None:
    long = [*ALIGNED[:3], Segment(DYNAMIC, 0x2F80, 0x3F80, 0x100, 0x100, RW, 0x8)]
    assert load_problem(headers(craft(long))) == (
        "DYNAMIC segment 3 (bytes 0x2f80-0x3080) ends past the end of the file (12,288 bytes)"
    )


def test_truncated_files() -> None:
    whole = craft(ALIGNED, SECTIONS)
    assert error_of(whole[:40]) == "truncated: 40 bytes, shorter than an ELF64 header (64 bytes)"
    assert error_of(whole[:200]) == (
        "the program headers (bytes 0x40-0x158) end past the end of the file (200 bytes)"
    )
    assert error_of(whole[:400]) == (
        "the section headers (bytes 0x158-0x298) end past the end of the file (400 bytes)"
    )


def test_what_is_not_an_elf_file() -> None:
    assert error_of(b"") == "not an ELF file"
    assert error_of(b"MZ\x90\x00" + bytes(60)) == "not an ELF file"
    assert error_of(b"\x7fELF fake extension for aarch64\n") == "unknown ELF class 32"
    bad_order = bytearray(craft(ALIGNED))
    bad_order[5] = 3
    assert error_of(bytes(bad_order)) == "unknown ELF byte order 3"
    small_entries = bytearray(craft(ALIGNED))
    small_entries[54:56] = struct.pack("<H", 32)  # e_phentsize
    assert error_of(bytes(small_entries)) == (
        "program header entries of 32 bytes, smaller than an ELF64 one (56 bytes)"
    )


def test_extended_numbering_reads_the_count_from_section_zero() -> None:
    zeroth = Section(0, 0, 0, 0)
    data = bytearray(craft(ALIGNED, (zeroth, *SECTIONS), phnum=0xFFFF))
    # Section 0's sh_info (at byte 44 of a 64-byte section header) holds the real count.
    shoff = struct.unpack_from("<Q", data, 40)[0]
    struct.pack_into("<I", data, shoff + 44, len(ALIGNED))
    assert headers(bytes(data)).segments == ALIGNED


def test_strip_would_break_what_no_section_holds() -> None:
    patched = [*ALIGNED, Segment(LOAD, 0x2800, 0x4800, 0x300, 0x300, RW, 0x1000)]
    assert strip_would_break(headers(craft(patched, SECTIONS))) == (
        "LOAD segment 5 (bytes 0x2800-0x2b00) holds no section, a layout patchelf leaves and "
        "strip does not preserve"
    )
    assert strip_would_break(headers(craft(ALIGNED))) == (
        "it has no section headers, from which strip writes the file again"
    )
    # Only the .bss (no file bytes) and a section that is not loaded cover the last segment.
    bss_only = [*ALIGNED[:2], Segment(LOAD, 0x2000, 0x3000, 0x80, 0x200, RW, 0x1000)]
    assert strip_would_break(headers(craft(bss_only, SECTIONS))) == (
        "LOAD segment 2 (bytes 0x2000-0x2080) holds no section, a layout patchelf leaves and "
        "strip does not preserve"
    )


def test_copy_problems_against_the_original() -> None:
    original = headers(craft(ALIGNED, SECTIONS))
    assert copy_problem(original, headers(craft(ALIGNED[:4], SECTIONS))) == (
        "the copy has 4 segments, the original 5"
    )
    other_kind = [*ALIGNED[:3], Segment(GNU_STACK, 0, 0, 0, 0, RW, 0x10), ALIGNED[3]]
    assert copy_problem(original, headers(craft(other_kind, SECTIONS))) == (
        "segment 3 is GNU_STACK in the copy, DYNAMIC in the original"
    )
    moved = [ALIGNED[0], Segment(LOAD, 0x1000, 0x11000, 0x400, 0x400, RX, 0x1000), *ALIGNED[2:]]
    assert copy_problem(original, headers(craft(moved, SECTIONS))) == (
        "LOAD segment 1 is mapped at 0x11000 (flags 0x5) in the copy, at 0x1000 (flags 0x5) "
        "in the original"
    )
    misaligned = [*ALIGNED[:2], Segment(LOAD, 0x1D84, 0x2E00, 0, 0, RW, 0x1000), *ALIGNED[3:]]
    assert copy_problem(original, headers(craft(misaligned, SECTIONS))) == (
        "in the copy, LOAD segment 2 is misaligned: offset 0x1d84 and address 0x2e00 differ "
        "modulo 0x1000"
    )
    # A smaller file with the same segments (strip's normal work) is fine.
    assert copy_problem(original, headers(craft(ALIGNED, SECTIONS[:3], size=0x2100))) is None


def test_an_unreadable_copy_is_a_problem(tmp_path: Path) -> None:
    original = headers(craft(ALIGNED, SECTIONS))
    copy = tmp_path / "copy.so"
    copy.write_bytes(b"")
    assert stripped_copy_problem(original, copy) == "the copy is unreadable: not an ELF file"


def test_reads_what_readelf_reads_of_a_compiled_library(tmp_path: Path) -> None:
    gcc, readelf = shutil.which("gcc"), shutil.which("readelf")
    if gcc is None or readelf is None:
        pytest.skip("needs gcc and readelf (binutils)")
    (tmp_path / "ext.c").write_text("int answer(void) { return 42; }\n")
    library = tmp_path / "libext.so"
    subprocess.run([gcc, "-g", "-shared", "-fPIC", "-o", str(library), str(tmp_path / "ext.c")],
                   check=True)  # fmt: skip
    listing = subprocess.run([readelf, "-lW", str(library)], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    rows = re.findall(r"^\s+([A-Z_]+)\s+(0x\w+)\s+(0x\w+)\s+0x\w+\s+(0x\w+)"
                      r"\s+(0x\w+)", listing, re.MULTILINE)  # fmt: skip
    read = read_headers_of(library)
    expected = [(kind, *(int(v, 16) for v in values)) for kind, *values in rows]
    assert [(s.name, s.offset, s.vaddr, s.filesz, s.memsz) for s in read.segments] == expected
    assert load_problem(read) is None
    assert strip_would_break(read) is None
