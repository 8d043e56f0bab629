"""Reading installed distributions and their RECORD from a layer tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_builder.errors import PackageError
from layer_builder.model.distributions import find_distributions, owned_files


def _install(root: Path, name: str, version: str, record: str, dir_name: str = "") -> Path:
    dist_info = root / (dir_name or f"{name.replace('-', '_')}-{version}.dist-info")
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not-a-header\n"
    )
    (dist_info / "RECORD").write_text(record)
    return dist_info


def test_reads_name_version_and_record_files(tmp_path: Path) -> None:
    _install(
        tmp_path,
        "Tiny-YAML",
        "6.0.0",
        "yaml_impl/__init__.py,sha256=abc,10\n_tiny_yaml.py,,\n"
        "Tiny_YAML-6.0.0.dist-info/RECORD,,\n",
    )
    (dist,) = find_distributions(tmp_path)
    assert (dist.name, dist.version, dist.canonical_name) == ("Tiny-YAML", "6.0.0", "tiny-yaml")
    assert dist.dist_info == "Tiny_YAML-6.0.0.dist-info"
    assert dist.files == (
        "Tiny_YAML-6.0.0.dist-info/RECORD",
        "_tiny_yaml.py",
        "yaml_impl/__init__.py",
    )


def test_record_entries_outside_the_tree_are_ignored(tmp_path: Path) -> None:
    _install(
        tmp_path,
        "tool",
        "1.0",
        "tool.py,,\n../../bin/tool,,\n/usr/bin/tool,,\n\n,,\n",
    )
    (dist,) = find_distributions(tmp_path)
    assert dist.files == ("tool.py",)


def test_record_with_quoted_commas_in_names(tmp_path: Path) -> None:
    _install(tmp_path, "odd", "1.0", '"odd/a,b.txt",sha256=x,1\nodd/__init__.py,,\n')
    (dist,) = find_distributions(tmp_path)
    assert dist.files == ("odd/__init__.py", "odd/a,b.txt")


def test_sorted_by_canonical_name_and_dist_info_without_metadata_skipped(tmp_path: Path) -> None:
    _install(tmp_path, "Zeta", "1", "zeta.py,,\n")
    _install(tmp_path, "alpha_pkg", "2", "alpha_pkg.py,,\n")
    (tmp_path / "broken-1.0.dist-info").mkdir()
    names = [d.name for d in find_distributions(tmp_path)]
    assert names == ["alpha_pkg", "Zeta"]


def test_name_falls_back_to_the_folder_name(tmp_path: Path) -> None:
    dist_info = tmp_path / "noname-3.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\n")
    (dist_info / "RECORD").write_text("noname.py,,\n")
    (dist,) = find_distributions(tmp_path)
    assert (dist.name, dist.version) == ("noname", "")


def test_missing_record_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    dist_info = _install(tmp_path, "legacy", "0.1", "")
    (dist_info / "RECORD").unlink()
    with pytest.raises(PackageError) as caught:
        find_distributions(tmp_path)
    assert str(caught.value) == (
        "legacy-0.1.dist-info has no RECORD, so its files cannot be told apart: "
        "reinstall it with a current pip or uv"
    )


# -- hostile RECORD files ----------------------------------------------------------------


def test_record_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    dist_info = _install(tmp_path, "latin", "1.0", "")
    (dist_info / "RECORD").write_bytes(b"latin/caf\xe9.py,,\n")
    with pytest.raises(PackageError) as caught:
        find_distributions(tmp_path)
    assert str(caught.value) == (
        "latin-1.0.dist-info/RECORD is not valid UTF-8 (byte 0xe9 at offset 9), so its files "
        "cannot be told apart: reinstall the distribution with a current pip or uv"
    )


@pytest.mark.parametrize(
    ("content", "line", "why"),
    [
        (b'odd/__init__.py,,\n"odd/a.py,,\n', 2, "unexpected end of data"),
        (b"odd/a\x00.py,,\n", 1, "a path holds a NUL character"),
        (b'odd/__init__.py,,\n"odd/b.py"x,,\n', 2, "',' expected after '\"'"),
    ],
    ids=["unterminated-quote", "nul", "stray-quote"],
)
def test_malformed_record_is_an_error_naming_it_and_the_line(
    tmp_path: Path, content: bytes, line: int, why: str
) -> None:
    dist_info = _install(tmp_path, "odd", "1.0", "")
    (dist_info / "RECORD").write_bytes(content)
    with pytest.raises(PackageError) as caught:
        find_distributions(tmp_path)
    assert str(caught.value) == (
        f"odd-1.0.dist-info/RECORD is malformed at line {line} ({why}), so its files cannot be "
        f"told apart: reinstall the distribution with a current pip or uv"
    )


def test_record_entries_are_normalised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="layer_builder")
    _install(
        tmp_path,
        "messy",
        "1.0",
        "messy/./a.py,,\nmessy//b.py,,\nother/../messy/c.py,,\n./d.py,,\n"
        "a/../../escape.py,,\nC:/Windows/evil.dll,,\n.,,\n",
    )
    (dist,) = find_distributions(tmp_path)
    assert dist.files == ("d.py", "messy/a.py", "messy/b.py", "messy/c.py")
    assert (
        "messy-1.0.dist-info/RECORD lists 'a/../../escape.py', outside the tree: ignored"
        in caplog.messages
    )


def test_an_excluded_record_removes_only_what_its_distribution_owns(tmp_path: Path) -> None:
    kept = _install(
        tmp_path,
        "keeper",
        "1.0",
        "keeper/__init__.py,,\nns/__init__.py,,\nkeeper-1.0.dist-info/METADATA,,\n",
    )
    _install(
        tmp_path,
        "grabby",
        "1.0",
        "grabby/__init__.py,,\n"
        "ns/__init__.py,,\n"  # a pkgutil namespace file both install
        "../python/keeper/__init__.py,,\n"  # climbs out: ignored
        f"{tmp_path}/keeper/__init__.py,,\n"  # absolute: ignored
        "grabby/../keeper/__init__.py,,\n"  # normalises to the keeper's file
        "keeper-1.0.dist-info/INSTALLER,,\n"  # another distribution's metadata folder
        "grabby-1.0.dist-info/RECORD,,\n"
        "unclaimed.py,,\n",
    )
    assert kept.is_dir()
    found = {d.canonical_name: d for d in find_distributions(tmp_path)}
    owned = owned_files([found["grabby"]], [found["keeper"]])
    assert owned == {"grabby/__init__.py", "grabby-1.0.dist-info/RECORD", "unclaimed.py"}
