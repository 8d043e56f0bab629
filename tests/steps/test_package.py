"""PackageStep on trees installed by the real BuildStep from the local wheel index."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from layer_builder import (
    BuildResult,
    BuildStep,
    LayerPathLayout,
    LayerTarget,
    LayerTooLargeError,
    Manifest,
    PackageOptions,
    PackageResult,
    PackageStep,
    compute_fingerprint,
)
from layer_builder.distributions import find_distributions
from tests.conftest import WheelIndex

TARGET = LayerTarget("3.12", "x86_64")
PINS = "tinyhttp==2.0.0\ntinyutil==1.0.0\nTiny-YAML==6.0.0\ns3transfer==99.0.0\nfastcalc==1.0.0\n"


def _build(project: Path, index_url: str) -> BuildResult:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", os.devnull)
        mp.setenv("PIP_INDEX_URL", index_url)
        manifest = Manifest.from_project(project)
        return BuildStep(TARGET, manifest, LayerPathLayout(project)).run()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, wheel_index: WheelIndex) -> BuildResult:
    """One real pip install for the whole module; tests copy it before changing it."""
    project = tmp_path_factory.mktemp("packaged") / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(PINS)
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\n')
    return _build(project, wheel_index.url)


@pytest.fixture
def build(built: BuildResult, tmp_path: Path) -> Iterator[BuildResult]:
    """A private copy of the built tree, so a test may change files in it."""
    copy = tmp_path / "tree" / "python"
    shutil.copytree(built.dir_python, copy)
    yield attrs.evolve(built, dir_python=copy)


def _names(path_zip: Path) -> list[str]:
    with zipfile.ZipFile(path_zip) as zf:
        return zf.namelist()


def test_zip_has_python_at_root_and_sorted_entries(build: BuildResult, tmp_path: Path) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build)
    names = _names(result.path_zip)
    assert names == sorted(names)
    assert all(n.startswith("python/") for n in names)
    assert "python/tinyhttp/__init__.py" in names
    assert "python/fastcalc/_speedups.cpython-312-x86_64-linux-gnu.so" in names
    assert not any(n.endswith("/") for n in names), "no directory entries"


def test_entries_have_fixed_timestamp_and_normalised_permissions(
    build: BuildResult, tmp_path: Path
) -> None:
    script = build.dir_python / "tinyutil" / "__init__.py"
    script.chmod(0o700)
    (build.dir_python / "tinyhttp" / "__init__.py").chmod(0o600)
    result = PackageStep(tmp_path / "layer.zip").run(build)
    with zipfile.ZipFile(result.path_zip) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert {i.date_time for i in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
    modes = {name: stat.S_IMODE(i.external_attr >> 16) for name, i in infos.items()}
    assert modes["python/tinyutil/__init__.py"] == 0o755
    assert modes["python/tinyhttp/__init__.py"] == 0o644
    assert all(stat.S_ISREG(i.external_attr >> 16) for i in infos.values())


def test_rebuilding_the_same_dependencies_gives_identical_bytes(
    built: BuildResult, wheel_index: WheelIndex, tmp_path: Path
) -> None:
    first = PackageStep(tmp_path / "first.zip").run(built)
    project = tmp_path / "again"
    project.mkdir()
    shutil.copy(built.manifest.path, project / "requirements.txt")
    rebuilt = _build(project, wheel_index.url)
    assert rebuilt.dir_python != built.dir_python
    second = PackageStep(tmp_path / "second.zip").run(rebuilt)
    assert second.sha256 == first.sha256
    assert (tmp_path / "first.zip").read_bytes() == (tmp_path / "second.zip").read_bytes()


def test_source_date_epoch_sets_the_timestamp_and_the_bytes(
    build: BuildResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = PackageStep(tmp_path / "plain.zip").run(build)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    dated = PackageStep(tmp_path / "dated.zip").run(build)
    with zipfile.ZipFile(dated.path_zip) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}
    assert dated.sha256 != plain.sha256
    again = PackageStep(tmp_path / "again.zip").run(build)
    assert again.sha256 == dated.sha256


def test_default_excludes_go_by_record(build: BuildResult, tmp_path: Path) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build)
    names = _names(result.path_zip)
    assert result.excluded == ("s3transfer",)
    assert not [n for n in names if "s3transfer" in n]
    assert "python/yaml_impl/__init__.py" in names


def test_custom_excludes_replace_the_defaults(build: BuildResult, tmp_path: Path) -> None:
    options = PackageOptions(excludes=("tiny_yaml",))  # any spelling of the name
    result = PackageStep(tmp_path / "layer.zip", options).run(build)
    names = _names(result.path_zip)
    assert result.excluded == ("Tiny-YAML",)
    assert not [n for n in names if "yaml" in n.lower()], "yaml_impl/, _tiny_yaml.py, dist-info"
    assert "python/s3transfer/__init__.py" in names


def test_files_outside_any_record_are_kept(build: BuildResult, tmp_path: Path) -> None:
    (build.dir_python / "extra_module.py").write_text("X = 1\n")
    names = _names(PackageStep(tmp_path / "layer.zip").run(build).path_zip)
    assert "python/extra_module.py" in names


def test_result_describes_the_zip(build: BuildResult, tmp_path: Path) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build)
    data = result.path_zip.read_bytes()
    with zipfile.ZipFile(result.path_zip) as zf:
        infos = zf.infolist()
        assert zf.testzip() is None
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.zip_size == len(data)
    assert result.files == len(infos)
    assert result.unzipped_size == sum(i.file_size for i in infos)
    assert result.fingerprint == compute_fingerprint(
        build.manifest, build.target, PackageOptions().fingerprint_fields()
    )
    described = PackageResult.from_zip(result.path_zip, result.fingerprint)
    assert (described.sha256, described.files, described.unzipped_size) == (
        result.sha256,
        result.files,
        result.unzipped_size,
    )


def test_fingerprint_follows_excludes_not_compression(build: BuildResult, tmp_path: Path) -> None:
    base = PackageStep(tmp_path / "a.zip").run(build)
    level = PackageStep(tmp_path / "b.zip", PackageOptions(compresslevel=1)).run(build)
    excludes = PackageStep(tmp_path / "c.zip", PackageOptions(excludes=())).run(build)
    assert level.fingerprint == base.fingerprint
    assert excludes.fingerprint != base.fingerprint


def test_size_guard_names_the_largest_distributions(build: BuildResult, tmp_path: Path) -> None:
    (build.dir_python / "tinyhttp" / "__init__.py").write_bytes(b"#" * 5000)  # in its RECORD
    path_zip = tmp_path / "layer.zip"
    path_zip.write_bytes(b"previous zip")
    options = PackageOptions(max_unzipped_size=4000)
    with pytest.raises(LayerTooLargeError) as caught:
        PackageStep(path_zip, options).run(build)
    message = str(caught.value)
    assert "unzipped, over the 4.0 kB limit (4,000 bytes)" in message
    assert re.search(r"largest distributions: tinyhttp 5\.\d kB, fastcalc 0\.\d kB, ", message)
    assert "s3transfer" not in message, "excluded distributions do not count"
    assert "exclude some (--exclude NAME)" in message
    assert path_zip.read_bytes() == b"previous zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.zip", "tree"]


def test_failure_while_zipping_leaves_no_partial_zip(build: BuildResult, tmp_path: Path) -> None:
    path_zip = tmp_path / "out" / "layer.zip"
    path_zip.mkdir(parents=True)  # the zip is written, then cannot be renamed over a folder
    with pytest.raises(OSError):
        PackageStep(path_zip).run(build)
    assert path_zip.is_dir()
    assert [p.name for p in path_zip.parent.iterdir()] == ["layer.zip"]


def test_distributions_are_found_in_the_built_tree(build: BuildResult) -> None:
    found = {d.canonical_name: d for d in find_distributions(build.dir_python)}
    assert sorted(found) == ["fastcalc", "s3transfer", "tiny-yaml", "tinyhttp", "tinyutil"]
    assert found["tiny-yaml"].name == "Tiny-YAML"
    assert "yaml_impl/__init__.py" in found["tiny-yaml"].files
