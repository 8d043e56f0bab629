"""The build fingerprint and its stamp in a layer version's Description."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layer_builder import (
    ConfigurationError,
    InstallOptions,
    LayerTarget,
    Manifest,
    PackageOptions,
    VersionStamp,
    compute_fingerprint,
)
from layer_builder.steps.publish.options import MAX_DESCRIPTION_PREFIX, PublishOptions


def manifest_in(directory: Path, content: bytes, filename: str = "requirements.txt") -> Manifest:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / filename).write_bytes(content)
    return Manifest.from_file(directory / filename)


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    return manifest_in(tmp_path / "a", b"tinyutil==1.0.0\n")


OPTIONS = PackageOptions().fingerprint_fields()


def test_fingerprint_is_a_stable_sha256_hex(manifest: Manifest, tmp_path: Path) -> None:
    first = compute_fingerprint(manifest, LayerTarget(), OPTIONS)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    # Same bytes in another folder, new objects: the same fingerprint.
    again = manifest_in(tmp_path / "elsewhere", b"tinyutil==1.0.0\n")
    assert compute_fingerprint(again, LayerTarget("3.12", "x86_64"), dict(OPTIONS)) == first
    # Key order of the options does not matter.
    options = {"b": 1, "a": [2]}
    reordered = {"a": [2], "b": 1}
    assert compute_fingerprint(manifest, LayerTarget(), options) == compute_fingerprint(
        manifest, LayerTarget(), reordered
    )


def test_fingerprint_changes_with_each_input(manifest: Manifest, tmp_path: Path) -> None:
    base = compute_fingerprint(manifest, LayerTarget(), OPTIONS)
    variants = {
        "manifest bytes": compute_fingerprint(
            manifest_in(tmp_path / "b", b"tinyutil==1.1.0\n"), LayerTarget(), OPTIONS
        ),
        "python": compute_fingerprint(manifest, LayerTarget("3.11"), OPTIONS),
        "architecture": compute_fingerprint(manifest, LayerTarget("3.12", "arm64"), OPTIONS),
        "excludes": compute_fingerprint(
            manifest, LayerTarget(), PackageOptions(excludes=("boto3",)).fingerprint_fields()
        ),
        "tool": compute_fingerprint(
            manifest_in(tmp_path / "c", b"tinyutil==1.0.0\n", "uv.lock"), LayerTarget(), OPTIONS
        ),
    }
    assert base not in variants.values()
    assert len(set(variants.values())) == len(variants)


def test_fingerprint_ignores_what_does_not_change_the_content(manifest: Manifest) -> None:
    base = compute_fingerprint(manifest, LayerTarget(), OPTIONS)
    assert (
        compute_fingerprint(
            manifest, LayerTarget(), PackageOptions(compresslevel=9).fingerprint_fields()
        )
        == base
    )
    # Excludes are compared by canonical distribution name, whatever their order and spelling.
    shuffled = PackageOptions(
        excludes=("Wheel", "setuptools", "pip", "s3transfer", "botocore", "boto3")
    )
    assert compute_fingerprint(manifest, LayerTarget(), shuffled.fingerprint_fields()) == base


def test_stamp_round_trips_through_a_description() -> None:
    stamp = VersionStamp("a" * 64, "b" * 64)
    description = stamp.to_description("my app deps")
    assert (
        description
        == f"my app deps [layer_builder fingerprint={'a' * 64} manifest-sha256={'b' * 64}]"
    )
    assert VersionStamp.from_description(description) == stamp
    bare = stamp.to_description()
    assert bare.startswith("[layer_builder ")
    assert VersionStamp.from_description(bare) == stamp
    assert VersionStamp.from_description("  padded  " + bare) == stamp
    assert stamp.to_description("   ") == bare


@pytest.mark.parametrize(
    "description",
    [
        None,
        "",
        "published by hand",
        "[layer_builder fingerprint=abc manifest-sha256=def]",
        f"[layer_builder fingerprint={'A' * 64} manifest-sha256={'b' * 64}]",
        f"[layer_builder manifest-sha256={'b' * 64} fingerprint={'a' * 64}]",
    ],
)
def test_descriptions_without_a_valid_stamp_give_none(description: str | None) -> None:
    assert VersionStamp.from_description(description) is None


def test_description_fits_lambda_limit_at_the_longest_prefix() -> None:
    stamp = VersionStamp("f" * 64, "e" * 64)
    assert len(stamp.to_description()) <= 256
    longest = "x" * MAX_DESCRIPTION_PREFIX
    description = stamp.to_description(longest)
    assert len(description) == 256
    assert VersionStamp.from_description(description) == stamp
    PublishOptions(description=longest)
    with pytest.raises(ConfigurationError, match="shorten --description"):
        PublishOptions(description=longest + "x")


def test_extras_and_groups_change_the_fingerprint_and_defaults_do_not(manifest: Manifest) -> None:
    plain = compute_fingerprint(manifest, LayerTarget(), OPTIONS)
    defaults = InstallOptions().fingerprint_fields()
    assert compute_fingerprint(manifest, LayerTarget(), OPTIONS, defaults) == plain
    with_extra = InstallOptions(extras=("speedups",)).fingerprint_fields()
    with_group = InstallOptions(groups=("lambda",)).fingerprint_fields()
    assert compute_fingerprint(manifest, LayerTarget(), OPTIONS, with_extra) != plain
    assert compute_fingerprint(manifest, LayerTarget(), OPTIONS, with_group) != plain
