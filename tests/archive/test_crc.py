"""crc32_combine agrees with zlib.crc32 over the whole data."""

from __future__ import annotations

import random
import zlib

import pytest

from layer_builder.archive.crc import crc32_combine


@pytest.mark.parametrize("sizes", [(0, 0), (1, 0), (0, 1), (5, 7), (1 << 20, 12_345), (3, 1 << 16)])
def test_combine_matches_the_crc_of_the_concatenation(sizes: tuple[int, int]) -> None:
    rng = random.Random(sum(sizes))
    first, second = rng.randbytes(sizes[0]), rng.randbytes(sizes[1])
    combined = crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second))
    assert combined == zlib.crc32(first + second)


def test_combine_over_many_pieces() -> None:
    data = random.Random(7).randbytes(300_001)
    crc = 0
    for start in range(0, len(data), 65_536):
        piece = data[start : start + 65_536]
        crc = crc32_combine(crc, zlib.crc32(piece), len(piece))
    assert crc == zlib.crc32(data)
