"""Sizes per distribution and the guard against Lambda's unzipped limit."""

from __future__ import annotations

import logging

import pytest

from layer_builder.errors import ConfigurationError, LayerTooLargeError
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.steps.package.size_report import (
    LAMBDA_UNZIPPED_LIMIT,
    UNOWNED,
    DistributionSize,
    SizeLimit,
    distribution_sizes,
    format_size,
    format_table,
    owners,
    parse_size,
)

NUMPY = InstalledDistribution(
    "numpy", "2.5.5", "numpy-2.5.5.dist-info", ("numpy/a.so", "numpy/b.py")
)
SIX = InstalledDistribution("six", "1.17.0", "six-1.17.0.dist-info", ("six.py",))


def test_sizes_per_distribution_largest_first() -> None:
    members = [
        ("numpy/a.so", 900, 300),
        ("numpy/b.py", 100, 40),
        ("six.py", 2000, 500),
        ("handmade.py", 10, 8),
    ]
    sizes = distribution_sizes(members, owners([NUMPY, SIX]))
    assert sizes == (
        DistributionSize("six", "1.17.0", 1, 2000, 500),
        DistributionSize("numpy", "2.5.5", 2, 1000, 340),
        DistributionSize(UNOWNED, "", 1, 10, 8),
    )


def test_format_size_uses_decimal_units() -> None:
    assert format_size(5_300) == "5.3 kB"
    assert format_size(86_220_543) == "86.2 MB"
    assert format_size(LAMBDA_UNZIPPED_LIMIT) == "262.1 MB"


def test_format_table_aligns_columns() -> None:
    lines = format_table(
        [DistributionSize("pyarrow", "26.0.1", 40, 150_000_000, 48_000_000),
         DistributionSize("six", "1.17.0", 1, 2000, 500)]
    )  # fmt: skip
    assert lines == [
        "distribution     files    unzipped      zipped",
        "pyarrow 26.0.1      40    150.0 MB     48.0 MB",
        "six 1.17.0           1      2.0 kB      0.5 kB",
    ]
    assert format_table([]) == []


def test_over_the_limit_names_the_largest_distributions() -> None:
    sizes = distribution_sizes([("numpy/a.so", 900, 0), ("six.py", 200, 0)], owners([NUMPY, SIX]))
    with pytest.raises(LayerTooLargeError) as caught:
        SizeLimit(limit=1000).check(1100, sizes, "/tree")
    assert str(caught.value) == (
        "the layer in /tree is 1.1 kB unzipped, over the 1.0 kB limit (1,000 bytes); largest "
        "distributions: numpy 0.9 kB, six 0.2 kB; exclude some (--exclude NAME), slim the tree "
        "(--slim, --strip) or split them into another layer"
    )


def test_the_reserve_for_the_function_lowers_the_limit() -> None:
    limit = SizeLimit(limit=LAMBDA_UNZIPPED_LIMIT, reserve=12_144_000)
    assert limit.available == 250_000_000
    with pytest.raises(LayerTooLargeError) as caught:
        limit.check(250_000_001, [], "/tree")
    assert (
        "over the 250.0 MB left of the 262.1 MB limit (250,000,000 bytes, after 12,144,000 "
        "reserved for the function)" in str(caught.value)
    )
    limit.check(250_000_000, [], "/tree")  # exactly at the limit fits


def test_warning_from_80_percent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="layer_builder")
    SizeLimit(limit=1000).check(799, [], "/tree")
    assert caplog.records == []
    SizeLimit(limit=1000).check(850, [DistributionSize("numpy", "2", 1, 850)], "/tree")
    (record,) = caplog.records
    assert record.getMessage() == (
        "the layer is 0.8 kB unzipped, 85 % of the 1.0 kB limit (1,000 bytes): the function "
        "and its other layers share the rest; largest distributions: numpy 0.8 kB"
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [("52428800", 52_428_800), ("50MB", 50_000_000), ("50 MiB", 52_428_800),
     ("262.143 MB", 262_143_000), ("1.5k", 1500), (0, 0), ("2 GiB", 2 * 1024**3)],
)  # fmt: skip
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "5 parsecs", "", "-3MB"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"invalid size"):
        parse_size(text)
