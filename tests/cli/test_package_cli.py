"""``layer-builder package``: the packaging flags, settings and output."""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from layer_builder.cli.packaging import (
    add_package_arguments,
    add_package_identity_arguments,
    package_options,
)
from layer_builder.errors import ConfigurationError
from layer_builder.installers.host_pythons import find_host_python
from layer_builder.steps.package.size_report import LAMBDA_UNZIPPED_LIMIT
from layer_builder.steps.package.step import PackageOptions
from tests.conftest import MakeProject

PINS = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0"}


@pytest.fixture
def built_project(make_project: MakeProject, cli: Any) -> Path:
    project = make_project(PINS)
    code, _, err = cli("build", "--project", project)
    assert code == 0, err
    tests_dir = project / "build/lambda/layer/artifacts/python/tinyhttp/tests"
    tests_dir.mkdir()
    (tests_dir / "test_get.py").write_bytes(b"def test(): pass\n" * 10)
    # A tree changed by hand: no build record vouches for it (package would refuse it).
    (project / "build/lambda/layer/artifacts/build-record.json").unlink()
    return project


def test_json_carries_the_size_report_and_savings(built_project: Path, cli: Any) -> None:
    code, out, err = cli("package", "--project", built_project, "--slim", "--json")
    assert code == 0, err
    data = json.loads(out)
    first = data["size_report"][0]
    assert first["unzipped_size"] == max(d["unzipped_size"] for d in data["size_report"])
    assert "tinyhttp" in [d["name"] for d in data["size_report"]]
    assert set(first) == {"name", "version", "files", "unzipped_size", "zipped_size"}
    assert sum(d["unzipped_size"] for d in data["size_report"]) == data["unzipped_size"]
    saved = {s["what"]: s["bytes_saved"] for s in data["savings"]}
    assert saved["tests/ and test/ folders"] == 170
    assert data["size_limit"] == 262_144_000
    assert data["reused_members"] == 0
    with zipfile.ZipFile(data["path"]) as zf:
        assert not [n for n in zf.namelist() if "/tests/" in n]
    again = json.loads(cli("package", "--project", built_project, "--slim", "--json").out)
    assert again["reused_members"] == again["files"]
    assert again["zip_sha256"] == data["zip_sha256"]
    # The smoke test names its interpreter: python3.12 of this host, when it has one.
    found = find_host_python("3.12", "x86_64")
    assert data["smoke_test_interpreter"] == (found.describe() if found else None)
    assert data["smoke_test"] == ("passed" if found else None)
    assert again["smoke_test"] == ("reused" if found else None)


def test_human_output_names_the_smoke_tests_interpreter(built_project: Path, cli: Any) -> None:
    found = find_host_python("3.12", "x86_64")
    if found is None:
        pytest.skip("no python3.12 on this host: the smoke test does not run")
    code, out, _ = cli("package", "--project", built_project, "--slim")
    assert code == 0
    [line] = [line for line in out.splitlines() if line.startswith("import smoke test")]
    assert line.startswith(f"import smoke test ({found.describe()}): passed in ")


def test_human_output_lists_distributions_largest_first(built_project: Path, cli: Any) -> None:
    code, out, _ = cli("package", "--project", built_project, "--slim", "--reserve", "250MB")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{built_project / 'build/lambda/layer/layer.zip'} (")
    assert lines[1].endswith("unzipped, 0 % of the limit")
    assert lines[2].split() == ["distribution", "files", "unzipped", "zipped"]
    assert lines[3].startswith("fastcalc 1.0.0 "), "the largest after slimming"
    assert [line for line in lines if line.startswith("tinyhttp 2.0.0 ")]
    saved = [line for line in lines if line.startswith("saved ")]
    assert saved[0].startswith("saved 0.0 kB (0 files): __pycache__ folders and *.pyc")
    assert "saved 0.2 kB (1 files): tests/ and test/ folders" in lines


def test_settings_come_from_pyproject(make_project: MakeProject, cli: Any) -> None:
    extra = '[tool.layer_builder]\nslim = true\ncompress_level = 0\nreserve = "262.143 MB"\n'
    project = make_project(PINS, pyproject_extra=extra)
    assert cli("build", "--project", project).code == 0
    code, out, err = cli("package", "--project", project, "--json")
    assert code == 1
    assert "over the 1.0 kB left of the 262.1 MB limit (1,000 bytes, after 262,143,000 " in err
    code, out, err = cli("package", "--project", project, "--json", "--reserve", "0")
    assert code == 0, err
    data = json.loads(out)
    assert data["zip_size"] > data["unzipped_size"], "level 0 stores every member"
    assert data["savings"], "slim from pyproject"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--compress-level", "13"],
         "compression level 13 is out of range for libdeflate: choose 0 (store) to 12"),
        (["--compress-level", "10", "--deflate-backend", "zlib"],
         "compression level 10 is out of range for zlib: choose 0 (store) to 9"),
        (["--reserve", "lots"],
         "invalid size 'lots': give bytes or a number with kB, MB, GB (or KiB, MiB, GiB), "
         "e.g. --reserve 20MB"),
        (["--reserve", "300MB"],
         "--reserve 300.0 MB (300,000,000 bytes) is not below Lambda's 262.1 MB unzipped "
         "limit (262,144,000 bytes), so no room is left for the layer: reserve only what the "
         "function's own code and its other layers take (e.g. --reserve 20MB)"),
    ],
)  # fmt: skip
def test_bad_packaging_flags_are_one_line_errors(
    make_project: MakeProject, cli: Any, flags: list[str], message: str
) -> None:
    project = make_project(PINS)
    code, out, err = cli("package", "--project", project, *flags)
    assert (code, out) == (1, "")
    assert err.strip().splitlines()[-1] == f"layer-builder: error: {message}"


def test_reserve_is_checked_against_the_limit_when_options_are_made() -> None:
    assert PackageOptions(reserve=LAMBDA_UNZIPPED_LIMIT - 1).size_limit.available == 1
    with pytest.raises(ConfigurationError, match=r"^--reserve 262\.1 MB .* is not below"):
        PackageOptions(reserve=LAMBDA_UNZIPPED_LIMIT)
    with pytest.raises(ConfigurationError, match=r"^--reserve 1\.0 kB .* is not below"):
        PackageOptions(max_unzipped_size=1000, reserve=1000)
    with pytest.raises(ConfigurationError) as info:
        PackageOptions(reserve=-1)
    assert (
        str(info.value) == "reserve of -1 bytes is negative: give 0 or more (e.g. --reserve 20MB)"
    )


def test_flags_win_over_pyproject() -> None:
    parser = argparse.ArgumentParser()
    add_package_arguments(parser)
    add_package_identity_arguments(parser)
    args = parser.parse_args(["--compress-level", "9", "--reserve", "1 MiB"])
    config = {"compress_level": 1, "slim": True, "strip": True, "reserve": 5}
    options = package_options(args, config, excludes=["six"])
    assert (options.compresslevel, options.reserve, options.slim, options.strip) == (
        9,
        1_048_576,
        True,
        True,
    )
    assert options.excludes == ("six",)


def test_strip_takes_an_optional_mode() -> None:
    parser = argparse.ArgumentParser()
    add_package_identity_arguments(parser)
    plain = package_options(parser.parse_args(["--strip"]), {}, None)
    assert (plain.strip, plain.strip_mode) == (True, "debug")
    unneeded = package_options(parser.parse_args(["--strip", "unneeded"]), {}, None)
    assert (unneeded.strip, unneeded.strip_mode) == (True, "unneeded")
    from_config = package_options(parser.parse_args([]), {"strip": "unneeded"}, None)
    assert from_config.strip_mode == "unneeded"
    assert unneeded.fingerprint_fields()["strip"] == "unneeded"
    assert plain.fingerprint_fields()["strip"] is True
    assert not package_options(parser.parse_args([]), {}, None).strip
    with pytest.raises(SystemExit):
        parser.parse_args(["--strip", "everything"])


def test_unknown_strip_mode_in_pyproject_is_a_clear_error() -> None:
    parser = argparse.ArgumentParser()
    add_package_arguments(parser)
    with pytest.raises(ConfigurationError) as caught:
        package_options(parser.parse_args([]), {"strip": "all"}, None)
    assert str(caught.value) == (
        "unknown strip mode 'all': choose debug or unneeded (e.g. --strip unneeded)"
    )
