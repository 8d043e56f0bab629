"""The contents record and the layer's diff: added, removed, changed, sizes, no record."""

from __future__ import annotations

import json

import pytest

from layer_builder.cli.diff import diff_lines, signed_size
from layer_builder.errors import ProjectError
from layer_builder.model.contents import DistributionContents, LayerContents
from layer_builder.model.layer_diff import LayerDiff, VersionChange, diff_contents, diff_pins


def contents(*dists: tuple[str, str, int], zip_size: int = 1000) -> LayerContents:
    return LayerContents(
        zip_sha256="a" * 64,
        fingerprint="b" * 64,
        runtime="python3.12",
        architecture="x86_64",
        files=sum(1 for _ in dists),
        unzipped_size=sum(size for _, _, size in dists),
        zip_size=zip_size,
        distributions=tuple(
            DistributionContents(name, version, 1, size, size // 2, "MIT")
            for name, version, size in dists
        ),
    )


OLD = contents(("tinyutil", "1.0.0", 100), ("Tiny-YAML", "6.0.0", 50), ("gone", "0.1", 10))
NEW = contents(("tinyutil", "1.1.0", 130), ("tiny_yaml", "6.0.0", 50), ("tinyhttp", "2.0.0", 70),
               zip_size=1200)  # fmt: skip


def test_a_record_reads_back_what_was_written() -> None:
    assert LayerContents.loads(OLD.dumps(), "x") == OLD
    document = json.loads(OLD.dumps())
    assert document["format"] == 1
    assert document["distributions"][0] == {
        "name": "tinyutil", "version": "1.0.0", "files": 1, "unzipped_size": 100,
        "zipped_size": 50, "license": "MIT",
    }  # fmt: skip


@pytest.mark.parametrize("data", [b"not json", b'{"format": 2}', b'{"format": 1}', b"[]"])
def test_a_broken_record_is_one_line(data: bytes) -> None:
    with pytest.raises(ProjectError) as info:
        LayerContents.loads(data, "build/lambda/layer/contents.json")
    message = str(info.value)
    assert message.startswith("build/lambda/layer/contents.json is not a contents record of ")
    assert message.endswith(": package again to write it")
    assert "\n" not in message


def test_the_diff_of_two_records() -> None:
    diff = diff_contents(3, OLD, NEW)
    assert diff.added == (VersionChange("tinyhttp", None, "2.0.0"),)
    assert diff.removed == (VersionChange("gone", "0.1", None),)
    # Names are compared canonically: Tiny-YAML and tiny_yaml are one distribution.
    assert diff.changed == (VersionChange("tinyutil", "1.0.0", "1.1.0"),)
    assert (diff.unzipped_size_change, diff.zipped_size_change) == (250 - 160, 200)
    assert diff.to_json() == {
        "compared_with": 3,
        "known": True,
        "added": [{"name": "tinyhttp", "version": "2.0.0"}],
        "removed": [{"name": "gone", "version": "0.1"}],
        "changed": [{"name": "tinyutil", "old_version": "1.0.0", "new_version": "1.1.0"}],
        "unzipped_size_change": 90,
        "zipped_size_change": 200,
        "note": None,
    }
    assert diff_lines(diff.to_json()) == [
        "against version 3:",
        "  + tinyhttp 2.0.0",
        "  - gone 0.1",
        "  ~ tinyutil 1.0.0 -> 1.1.0",
        "  size: +90 bytes unzipped, +200 bytes zipped",
    ]


def test_a_first_version_adds_everything() -> None:
    diff = diff_contents(None, None, NEW)
    assert [c.name for c in diff.added] == ["tiny_yaml", "tinyhttp", "tinyutil"]  # canonical order
    assert (diff.removed, diff.changed) == ((), ())
    assert diff.unzipped_size_change == NEW.unzipped_size
    assert diff_lines(diff.to_json())[0] == "first version:"


def test_a_version_without_a_record_says_so() -> None:
    for diff in (diff_contents(4, None, NEW), diff_pins(4, None, {})):
        assert not diff.known and diff.empty
        assert (diff.unzipped_size_change, diff.zipped_size_change) == (None, None)
        assert diff_lines(diff.to_json()) == [
            "against version 4: no record of version 4's contents (published by an older "
            "layer-builder, or by something else)"
        ]


def test_pins_change_versions_but_say_nothing_of_sizes() -> None:
    pins = {"tinyutil": ("tinyutil", "1.1.0"), "tiny-yaml": ("tiny-yaml", "6.0.0"),
            "tinyhttp": ("tinyhttp", None)}  # fmt: skip
    complete = diff_pins(3, OLD, pins)
    assert complete.added == (VersionChange("tinyhttp", None, None),)
    assert complete.removed == (VersionChange("gone", "0.1", None),)
    assert complete.changed == (VersionChange("tinyutil", "1.0.0", "1.1.0"),)
    assert (complete.unzipped_size_change, complete.zipped_size_change) == (None, None)
    assert diff_lines(complete.to_json()) == [
        "against version 3:",
        "  + tinyhttp (version known once built)",
        "  - gone 0.1",
        "  ~ tinyutil 1.0.0 -> 1.1.0",
        "  (sizes are known once built)",
    ]
    partial = diff_pins(3, OLD, pins, complete=False, why="requirements.txt pins no hashes")
    assert partial.removed == ()
    assert partial.note == (
        "sizes are known once built; requirements.txt pins no hashes, so what it removes is "
        "known once built"
    )
    unknown = diff_pins(3, OLD, None, why="uv cannot read uv.lock here")
    assert not unknown.known
    assert unknown.note == "the changes are known once built (uv cannot read uv.lock here)"


def test_an_unchanged_build_changes_nothing() -> None:
    diff = LayerDiff.unchanged(7)
    assert diff.empty and diff.known
    assert diff_lines(diff.to_json()) == [
        "against version 7:",
        "  no distribution added, removed or changed",
        "  size: +0 bytes unzipped, +0 bytes zipped",
    ]


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "+0 bytes"), (-999, "-999 bytes"), (1500, "+1.5 kB"), (-2_500_000, "-2.5 MB")],
)
def test_signed_sizes(size: int, text: str) -> None:
    assert signed_size(size) == text
