"""PackageStep on trees installed by the real BuildStep from the local wheel index."""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import stat
import sys
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
    PackageError,
    PackageOptions,
    PackageResult,
    PackageStep,
    compute_fingerprint,
)
from layer_builder.model.distributions import find_distributions
from layer_builder.steps.package.smoke import smoke_test_applies
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


def test_an_excluded_record_never_takes_another_distributions_file(
    build: BuildResult, tmp_path: Path
) -> None:
    """s3transfer (excluded by default) claims, in every spelling, files that tinyhttp and
    tinyutil installed: they stay, and only what s3transfer alone lists goes."""
    (record,) = build.dir_python.glob("s3transfer-*.dist-info/RECORD")
    (build.dir_python / "shared_ns").mkdir()
    (build.dir_python / "shared_ns" / "__init__.py").write_text("")
    (tinyutil_record,) = build.dir_python.glob("tinyutil-*.dist-info/RECORD")
    tinyutil_record.write_text(tinyutil_record.read_text() + "shared_ns/__init__.py,,\n")
    claims = [
        "tinyhttp/__init__.py",
        "s3transfer/../tinyutil/__init__.py",
        "../python/tinyhttp/__init__.py",
        f"{build.dir_python}/tinyhttp/__init__.py",
        "shared_ns/__init__.py",
    ]
    record.write_text(record.read_text() + "".join(f"{c},,\n" for c in claims))
    result = PackageStep(tmp_path / "layer.zip").run(build)
    names = _names(result.path_zip)
    assert result.excluded == ("s3transfer",)
    assert {"python/tinyhttp/__init__.py", "python/tinyutil/__init__.py",
            "python/shared_ns/__init__.py"} <= set(names)  # fmt: skip
    assert not [n for n in names if "s3transfer" in n]


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
    described = PackageResult.from_zip(result.path_zip)
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
    assert message.endswith(
        "; exclude some (--exclude NAME), slim the tree (--slim, --strip) or split them into "
        "another layer"
    )
    assert path_zip.read_bytes() == b"previous zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "layer.zip", "tree"]


def test_failure_while_zipping_leaves_no_partial_zip(build: BuildResult, tmp_path: Path) -> None:
    path_zip = tmp_path / "out" / "layer.zip"
    path_zip.mkdir(parents=True)  # the zip is written, then cannot be renamed over a folder
    with pytest.raises(OSError):
        PackageStep(path_zip).run(build)
    assert path_zip.is_dir()
    assert sorted(p.name for p in path_zip.parent.iterdir()) == [".lock", "layer.zip"]


def test_distributions_are_found_in_the_built_tree(build: BuildResult) -> None:
    found = {d.canonical_name: d for d in find_distributions(build.dir_python)}
    assert sorted(found) == ["fastcalc", "s3transfer", "tiny-yaml", "tinyhttp", "tinyutil"]
    assert found["tiny-yaml"].name == "Tiny-YAML"
    assert "yaml_impl/__init__.py" in found["tiny-yaml"].files


def test_result_reports_sizes_per_distribution(build: BuildResult, tmp_path: Path) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build)
    names = [d.name for d in result.distributions]
    assert sorted(names) == ["Tiny-YAML", "fastcalc", "tinyhttp", "tinyutil"]
    unzipped = [d.unzipped_size for d in result.distributions]
    assert unzipped == sorted(unzipped, reverse=True)
    assert sum(unzipped) == result.unzipped_size
    assert sum(d.files for d in result.distributions) == result.files
    with zipfile.ZipFile(result.path_zip) as zf:
        compressed = sum(i.compress_size for i in zf.infolist())
    assert sum(d.zipped_size for d in result.distributions) == compressed
    assert result.size_limit == 262_144_000
    assert result.savings == ()


def test_reserve_and_warning_near_the_limit(
    build: BuildResult, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    size = PackageStep(tmp_path / "a.zip").run(build).unzipped_size
    caplog.set_level(logging.WARNING, logger="layer_builder")
    options = PackageOptions(max_unzipped_size=size + 1000, reserve=1000)
    result = PackageStep(tmp_path / "b.zip", options).run(build)
    assert result.size_limit == size
    assert "100 % of the" in caplog.text and "after 1,000 reserved for the function" in caplog.text
    with pytest.raises(LayerTooLargeError, match="after 1,001 reserved for the function"):
        PackageStep(tmp_path / "c.zip", attrs.evolve(options, reserve=1001)).run(build)
    assert not (tmp_path / "c.zip").exists()


def test_second_run_reuses_every_member(build: BuildResult, tmp_path: Path) -> None:
    first = PackageStep(tmp_path / "layer.zip").run(build)
    second = PackageStep(tmp_path / "layer.zip").run(build)
    assert (first.reused, second.reused) == (0, second.files)
    assert second.sha256 == first.sha256
    assert second.distributions == first.distributions


def _add_slimmable_files(root: Path) -> None:
    extra = {
        "tinyhttp/tests/test_get.py": b"def test(): pass\n" * 10,
        "tinyhttp/__pycache__/__init__.cpython-312.pyc": b"\0" * 300,
        "tinyhttp/__init__.pyi": b"def get(url: str) -> str: ...\n",
        "tinyhttp/include/tinyhttp.h": b"int get(void);\n",
        "tinyhttp/_speed.pyx": b"cdef int x = 1\n",
    }
    for name, data in extra.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def test_slim_leaves_out_files_but_keeps_metadata(build: BuildResult, tmp_path: Path) -> None:
    _add_slimmable_files(build.dir_python)
    plain = PackageStep(tmp_path / "plain.zip").run(build)
    slimmed = PackageStep(tmp_path / "slim.zip", PackageOptions(slim=True)).run(build)
    names = _names(slimmed.path_zip)
    assert not [n for n in names if "/tests/" in n or n.endswith((".pyc", ".pyi", ".h", ".pyx"))]
    assert len(_names(plain.path_zip)) - len(names) == 5
    saved = {s.what: (s.files, s.bytes_saved) for s in slimmed.savings}
    assert saved["tests/ and test/ folders"] == (1, 170)
    assert saved["__pycache__ folders and *.pyc"] == (1, 300)
    assert plain.unzipped_size - slimmed.unzipped_size == sum(
        s.bytes_saved for s in slimmed.savings
    )
    assert slimmed.fingerprint != plain.fingerprint
    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(slimmed.path_zip) as zf:
        zf.extractall(extracted)
    (dist,) = importlib.metadata.distributions(name="tinyhttp", path=[str(extracted / "python")])
    assert dist.version == "2.0.0"
    assert "tinyhttp/__init__.py" in [str(f) for f in dist.files or []]


def test_slim_runs_the_smoke_test_when_the_host_matches(
    built: BuildResult, build: BuildResult, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = LayerTarget(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")
    if not smoke_test_applies(host):
        pytest.skip("the host cannot run an x86_64 layer of its own Python")
    (build.dir_python / "tinyhttp" / "tests").mkdir()
    (build.dir_python / "tinyhttp" / "tests" / "__init__.py").write_text("")
    (build.dir_python / "tinyhttp" / "__init__.py").write_text("import tinyhttp.tests\n")
    caplog.set_level(logging.INFO, logger="layer_builder")
    step = PackageStep(tmp_path / "layer.zip", PackageOptions(slim=True))
    with pytest.raises(PackageError, match=r"import tinyhttp: ModuleNotFoundError"):
        step.run(attrs.evolve(build, target=host))
    assert "import smoke test of the slimmed layer" in caplog.text
    assert not (tmp_path / "layer.zip").exists()
    options = PackageOptions(slim=True, smoke_test=False)
    PackageStep(tmp_path / "layer.zip", options).run(attrs.evolve(build, target=host))
    assert (tmp_path / "layer.zip").is_file()


def test_strip_reports_its_saving(build: BuildResult, tmp_path: Path) -> None:
    result = PackageStep(tmp_path / "layer.zip", PackageOptions(strip=True)).run(build)
    (saving,) = result.savings
    # The fixture's shared object is a fake strip cannot read: kept as it is, nothing saved.
    assert (saving.what, saving.files, saving.bytes_saved) == (
        "debug sections of shared objects (strip)",
        0,
        0,
    )
    assert "python/fastcalc/_speedups.cpython-312-x86_64-linux-gnu.so" in _names(result.path_zip)
    plain = PackageOptions().fingerprint_fields()
    assert PackageOptions(strip=True).fingerprint_fields() == {**plain, "strip": True}
    assert plain == {
        "excludes": ["boto3", "botocore", "pip", "s3transfer", "setuptools", "wheel"],
        "kept_when_required": ["pip", "setuptools", "wheel"],
    }
