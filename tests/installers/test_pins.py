"""What a manifest pins, read without installing: requirements files, uv.lock (real uv),
poetry.lock (locked by real Poetry against the local index)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest
from layer_builder.installers import InstallOptions
from layer_builder.installers.pins import read_pins, read_requirements
from tests.conftest import MakeProject, WheelIndex
from tests.installers.projects import write_poetry_project, write_uv_project

X86 = LayerTarget("3.12", "x86_64")


def test_requirements_with_hashes_markers_and_continuations() -> None:
    text = """\
# a comment
--index-url https://example.invalid/simple/
tinyutil==1.1.0 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
Tiny_YAML[fast]==6.0.0 ; python_version >= "3.11"   # trailing comment
colorama==0.4.6 ; sys_platform == "win32"
fastcalc==1.0.0 ; platform_machine == "aarch64"
tinyhttp>=2.0
tinygpl @ https://example.invalid/tinygpl-1.0.0-py3-none-any.whl
"""
    pins, whole = read_requirements(text, X86)
    assert pins == {
        "tinyutil": ("tinyutil", "1.1.0"),
        "tiny-yaml": ("Tiny_YAML", "6.0.0"),
        "tinyhttp": ("tinyhttp", None),  # not pinned exactly
        "tinygpl": ("tinygpl", None),  # a URL
    }
    assert whole
    arm, _ = read_requirements(text, LayerTarget("3.12", "arm64"))
    assert arm["fastcalc"] == ("fastcalc", "1.0.0")
    _, included = read_requirements("-r base.txt\ntinyutil==1.0.0\n", X86)
    assert not included, "the included file is not read"


def test_a_hashed_requirements_file_is_a_complete_lock(
    make_project: MakeProject,
) -> None:
    hashed = make_project({"tinyutil": "1.1.0", "s3transfer": "99.0.0"})
    pins = read_pins(Manifest.from_project(hashed), X86, excludes=["s3transfer"])
    assert pins.versions == {"tinyutil": ("tinyutil", "1.1.0")}, "excluded ones are left out"
    assert pins.complete
    plain = make_project({"tinyutil": "1.1.0"}, name="plain", hashes=False)
    pins = read_pins(Manifest.from_project(plain), X86)
    assert not pins.complete
    assert pins.why == "requirements.txt pins no hashes"


def test_a_uv_lock_is_read_with_uv_without_resolving(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = write_uv_project(
        tmp_path / "uv", wheel_index.url, ["tinyhttp==2.0.0"], groups={"docs": ["tiny-yaml"]},
        dev=["tinygpl"],
    )  # fmt: skip
    manifest = Manifest.from_project(project)
    pins = read_pins(manifest, X86)
    # tinyhttp pulls tinyutil in; the dev group and the project itself are not in the layer.
    assert pins.versions == {"tinyhttp": ("tinyhttp", "2.0.0"), "tinyutil": ("tinyutil", "1.1.0")}
    assert pins.complete
    with_docs = read_pins(manifest, X86, InstallOptions(groups=["docs"]))
    assert with_docs.versions is not None and "tiny-yaml" in with_docs.versions
    assert not (project / "build").exists(), "nothing written into the project"


def test_an_unknown_group_leaves_a_uv_locks_pins_unknown_with_one_line(
    tmp_path: Path, wheel_index: WheelIndex, caplog: pytest.LogCaptureFixture
) -> None:
    project = write_uv_project(tmp_path / "uv", wheel_index.url, ["tinyutil"], groups={"docs": []})
    caplog.set_level(logging.WARNING, "layer_builder")
    pins = read_pins(Manifest.from_project(project), X86, InstallOptions(groups=["nope"]))
    assert pins.versions is None
    # uv's own error, said as the build says it (not the export's whole output).
    assert (
        f"cannot read the pins of {project / 'uv.lock'}: unknown group 'nope' (--group): "
        f"{project / 'pyproject.toml'} defines these dependency groups: dev, docs; use one "
        f"of them, or add it and lock again"
    ) in caplog.text
    assert "command (exit code" not in caplog.text


def test_a_poetry_lock_with_its_own_source_is_read_directly(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = write_poetry_project(
        tmp_path / "poetry", wheel_index.url, ["tinyhttp", "fastcalc"], dev=["s3transfer"]
    )
    pins = read_pins(Manifest.from_project(project), LayerTarget("3.12", "arm64"))
    assert pins.versions == {
        "fastcalc": ("fastcalc", "1.0.0"),
        "tinyhttp": ("tinyhttp", "2.0.0"),
        "tinyutil": ("tinyutil", "1.1.0"),
    }
    assert pins.complete


def test_a_stale_poetry_lock_is_unknown(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = write_poetry_project(tmp_path / "poetry", wheel_index.url, ["tinyutil"])
    with (project / "pyproject.toml").open("a") as f:
        f.write('\n[dependency-groups]\nnew = ["tinyhttp"]\n')
    pins = read_pins(Manifest.from_project(project), X86)
    assert (pins.versions, pins.complete) == (None, False)
    assert pins.why == "only a Poetry run can read this poetry.lock"


def test_a_pylock_is_read_with_the_pep_751_selection(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    from tests.installers.test_pylock import uv_pylock

    project = uv_pylock(tmp_path / "pylock", wheel_index.url, ["tinyhttp==2.0.0", "fastcalc"])
    manifest = Manifest.from_project(project)
    assert manifest.filename == "pylock.toml"
    pins = read_pins(manifest, LayerTarget("3.12", "arm64"))
    assert pins.versions == {
        "fastcalc": ("fastcalc", "1.0.0"),
        "tinyhttp": ("tinyhttp", "2.0.0"),
        "tinyutil": ("tinyutil", "1.1.0"),
    }
    assert pins.complete


def test_a_utf8_byte_order_mark_is_no_part_of_the_first_requirement(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"\xef\xbb\xbftinyutil==1.0.0 --hash=sha256:aaaa\n")

    pins = read_pins(Manifest.from_file(path), X86)

    assert pins.versions == {"tinyutil": ("tinyutil", "1.0.0")}
    assert pins.complete
