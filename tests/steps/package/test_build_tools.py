"""Build tools (pip, setuptools, wheel) leave the layer only when nothing kept requires them.

Real trees: tiny wheels with ``Requires-Dist`` served by an index of this module's own,
installed by the real BuildStep, packaged by the real PackageStep.
"""

from __future__ import annotations

import hashlib
import html
import logging
import shutil
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import attrs
import pytest

from layer_builder import (
    BuildResult,
    BuildStep,
    InstallOptions,
    LayerPathLayout,
    LayerTarget,
    Manifest,
    PackageOptions,
    PackageStep,
    compute_fingerprint,
)
from layer_builder.steps.package.options import BUILD_TOOLS, DEFAULT_EXCLUDES
from tests.wheelhouse import IndexServer, WheelSpec, make_wheel

TARGET = LayerTarget("3.12", "x86_64")

WHEELS = (
    # Stand-ins for the real tools: setuptools brings pkg_resources.
    WheelSpec(
        "setuptools",
        "80.0.0",
        files={"setuptools/__init__.py": b"", "pkg_resources/__init__.py": b"FAKE = True\n"},
    ),
    WheelSpec("pip", "25.0.0", files={"pip/__init__.py": b""}),
    WheelSpec("wheel", "0.45.0", files={"wheel/__init__.py": b""}, requires=("setuptools",)),
    WheelSpec("boto3", "1.40.0", files={"boto3/__init__.py": b""}),
    # Imports pkg_resources: requires setuptools outright (and boto3, which the runtime has).
    WheelSpec(
        "tinyframework",
        "1.0.0",
        files={"tinyframework/__init__.py": b"import pkg_resources\n"},
        requires=("setuptools>=40", "boto3"),
    ),
    WheelSpec(
        "tinyframework-jinja",
        "1.0.0",
        files={"tinyframework_jinja/__init__.py": b"import tinyframework\n"},
        requires=("tinyframework",),
    ),
    # Needs setuptools only on Pythons the target is not.
    WheelSpec(
        "tinyold",
        "1.0.0",
        files={"tinyold/__init__.py": b""},
        requires=('setuptools; python_version < "3.12"',),
    ),
    # Needs it on the target's Python and CPU.
    WheelSpec(
        "tinynew",
        "1.0.0",
        files={"tinynew/__init__.py": b""},
        requires=('setuptools; python_version >= "3.12" and platform_machine == "x86_64"',),
    ),
    # Needs it with its extra "legacy" only, which tinyplugin asks for.
    WheelSpec(
        "tinyhost",
        "1.0.0",
        files={"tinyhost/__init__.py": b""},
        requires=('setuptools; extra == "legacy"',),
        metadata=("Provides-Extra: legacy",),
    ),
    WheelSpec(
        "tinyplugin",
        "1.0.0",
        files={"tinyplugin/__init__.py": b""},
        requires=("tinyhost[legacy]",),
    ),
    # Needs wheel, which needs setuptools.
    WheelSpec("tinyapp", "1.0.0", files={"tinyapp/__init__.py": b""}, requires=("wheel",)),
    WheelSpec("tinyplain", "1.0.0", files={"tinyplain/__init__.py": b""}),
)


@attrs.frozen
class Index:
    url: str
    hashes: Mapping[str, str]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    root = tmp_path_factory.mktemp("tools-index")
    (root / "files").mkdir()
    hashes: dict[str, str] = {}
    for spec in WHEELS:
        path = make_wheel(spec, root / "files")
        project = root / "simple" / spec.name
        project.mkdir(parents=True)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        hashes[spec.name] = digest
        (project / "index.html").write_text(
            f'<a href="../../files/{html.escape(path.name)}#sha256={digest}">'
            f"{html.escape(path.name)}</a>\n"
        )
    server = IndexServer(root).start()
    yield Index(server.url, hashes)
    server.stop()


Build = Callable[..., BuildResult]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory, index: Index) -> Build:
    """A real install of ``names`` (each pinned with its hash) for TARGET, once per module."""
    versions = {spec.name: spec.version for spec in WHEELS}
    built: dict[tuple[str, ...], BuildResult] = {}

    def make(*names: str) -> BuildResult:
        if names not in built:
            project = tmp_path_factory.mktemp("app")
            (project / "requirements.txt").write_text(
                "".join(f"{n}=={versions[n]} --hash=sha256:{index.hashes[n]}\n" for n in names)
            )
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("PIP_INDEX_URL", index.url)
                manifest = Manifest.from_project(project)
                built[names] = BuildStep(TARGET, manifest, LayerPathLayout(project)).run()
        return built[names]

    return make


@pytest.fixture
def info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="layer_builder")
    return caplog


def _package(build: BuildResult, path_zip: Path, options: PackageOptions | None = None) -> set[str]:
    """The top-level names the zip holds (``setuptools``, ``tinyapp-1.0.0.dist-info``...)."""
    PackageStep(path_zip, options).run(build)
    with zipfile.ZipFile(path_zip) as zf:
        return {name.split("/")[1] for name in zf.namelist()}


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_setuptools_stays_when_a_kept_distribution_requires_it(
    build: Build, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    tree = build("tinyframework-jinja", "tinyframework", "tinyold", "setuptools", "pip", "boto3")
    result = PackageStep(tmp_path / "layer.zip").run(tree)
    with zipfile.ZipFile(result.path_zip) as zf:
        names = zf.namelist()
    assert "python/pkg_resources/__init__.py" in names
    assert "python/setuptools-80.0.0.dist-info/METADATA" in names
    # pip is required by nothing; boto3 by tinyframework, but the runtime provides it.
    assert result.excluded == ("boto3", "pip")
    assert not [n for n in names if n.startswith(("python/pip", "python/boto3"))]
    assert "setuptools" in {d.name for d in result.distributions}
    # Only the requirement that holds on the target names its requirer (not tinyold's).
    assert "kept setuptools: required by tinyframework" in _messages(info, logging.INFO)
    assert "leaving out boto3, pip" in _messages(info, logging.INFO)
    assert _messages(info, logging.WARNING) == []


def test_setuptools_stays_for_a_marker_true_on_the_target(
    build: Build, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    top = _package(build("tinynew", "setuptools"), tmp_path / "layer.zip")
    assert {"setuptools", "pkg_resources"} <= top
    assert "kept setuptools: required by tinynew" in _messages(info, logging.INFO)


def test_setuptools_stays_for_an_extra_a_kept_distribution_asks_for(
    build: Build, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    """tinyplugin requires tinyhost[legacy], whose extra requires setuptools."""
    top = _package(build("tinyplugin", "tinyhost", "setuptools"), tmp_path / "layer.zip")
    assert {"setuptools", "pkg_resources"} <= top
    assert "kept setuptools: required by tinyhost" in _messages(info, logging.INFO)


def test_a_build_tool_kept_counts_its_own_requirements(
    build: Build, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    """tinyapp requires wheel (kept), which requires setuptools (kept in turn)."""
    top = _package(build("tinyapp", "wheel", "setuptools"), tmp_path / "layer.zip")
    assert {"tinyapp", "wheel", "setuptools", "pkg_resources"} <= top
    assert {"kept wheel: required by tinyapp", "kept setuptools: required by wheel"} <= set(
        _messages(info, logging.INFO)
    )


def test_setuptools_goes_when_only_a_marker_false_on_the_target_requires_it(
    build: Build, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    """tinyold needs it below Python 3.12; tinyhost only with an extra no one asks for."""
    tree = build("tinyold", "tinyhost", "setuptools")
    result = PackageStep(tmp_path / "layer.zip").run(tree)
    with zipfile.ZipFile(result.path_zip) as zf:
        top = {name.split("/")[1] for name in zf.namelist()}
    assert result.excluded == ("setuptools",)
    assert not {"setuptools", "pkg_resources"} & top
    assert {"tinyold", "tinyhost"} <= top
    assert not [m for m in _messages(info, logging.INFO) if m.startswith("kept ")]
    # The same tree keeps it for a Python the marker names ...
    old = attrs.evolve(tree, target=LayerTarget("3.11", "x86_64"))
    assert "setuptools" in _package(old, tmp_path / "old.zip")
    # ... and when the build installed the extra (the project's extras count too).
    extra = attrs.evolve(tree, install_options=InstallOptions(extras=("legacy",)))
    assert "setuptools" in _package(extra, tmp_path / "extra.zip")


def test_setuptools_goes_when_nothing_requires_it(build: Build, tmp_path: Path) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build("tinyplain", "setuptools"))
    assert result.excluded == ("setuptools",)
    assert [d.name for d in result.distributions] == ["tinyplain"]


def test_boto3_is_left_out_even_when_required(build: Build, tmp_path: Path) -> None:
    tree = build("tinyframework", "setuptools", "boto3")
    result = PackageStep(tmp_path / "layer.zip").run(tree)
    assert result.excluded == ("boto3",)
    assert "boto3" not in {d.name for d in result.distributions}


def test_an_explicit_exclude_of_a_required_tool_is_followed_with_a_warning(
    build: Build, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tree = build("tinyframework-jinja", "tinyframework", "setuptools", "boto3")
    options = PackageOptions(excludes=("setuptools", "boto3"))
    result = PackageStep(tmp_path / "layer.zip", options).run(tree)
    assert result.excluded == ("boto3", "setuptools")
    assert "setuptools" not in {d.name for d in result.distributions}
    # Only setuptools is warned about: the runtime provides boto3.
    assert _messages(caplog, logging.WARNING) == [
        "left out setuptools as asked, though tinyframework requires it: tinyframework may "
        "fail to import unless another layer provides setuptools; remove setuptools from the "
        "excludes (--exclude, or exclude = [...] in [tool.layer_builder]) to keep it"
    ]


def test_an_explicit_exclude_names_every_requirer(
    build: Build, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tree = build("tinyframework-jinja", "tinyframework", "setuptools", "boto3")
    options = PackageOptions(excludes=("tinyframework", "boto3"))
    PackageStep(tmp_path / "layer.zip", options).run(tree)
    (warning,) = _messages(caplog, logging.WARNING)
    assert warning.startswith(
        "left out tinyframework as asked, though tinyframework-jinja requires it: "
        "tinyframework-jinja may fail to import"
    )


def test_an_unreadable_requirement_counts_as_requiring_its_name(
    build: Build, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tree = build("tinyplain", "setuptools")
    copy = tmp_path / "python"
    shutil.copytree(tree.dir_python, copy)
    metadata = copy / "tinyplain-1.0.0.dist-info" / "METADATA"
    bad = "Requires-Dist: >=1.0\nRequires-Dist: setuptools (>=40; bad\n"
    metadata.write_text(metadata.read_text() + bad)
    top = _package(attrs.evolve(tree, dir_python=copy), tmp_path / "layer.zip")
    assert "setuptools" in top
    assert _messages(caplog, logging.WARNING) == [
        "tinyplain declares the unreadable requirement '>=1.0': ignored",
        "tinyplain declares the unreadable requirement 'setuptools (>=40; bad': counted as "
        "requiring setuptools on every target",
    ]


def test_the_default_list_given_by_hand_is_the_default(build: Build, tmp_path: Path) -> None:
    """The same names make the same options: equal, same content, same fingerprint."""
    tree = build("tinynew", "setuptools")
    by_hand = PackageOptions(excludes=tuple(reversed([n.upper() for n in DEFAULT_EXCLUDES])))
    assert by_hand == PackageOptions()
    assert by_hand.kept_when_required == BUILD_TOOLS
    default = PackageStep(tmp_path / "a.zip").run(tree)
    again = PackageStep(tmp_path / "b.zip", by_hand).run(tree)
    assert (again.sha256, again.fingerprint) == (default.sha256, default.fingerprint)


def test_fingerprint_of_the_default_list_changes_once_a_list_given_by_hand_keeps_its_own(
    build: Build, tmp_path: Path
) -> None:
    tree = build("tinyframework", "setuptools", "boto3")
    default = PackageStep(tmp_path / "layer.zip").run(tree)
    # Before the rule, the default list's fingerprint hashed the six names alone: every
    # layer packaged with it gets a new fingerprint (and is published once more).
    before = compute_fingerprint(tree.manifest, TARGET, {"excludes": list(DEFAULT_EXCLUDES)})
    assert default.fingerprint != before
    assert PackageOptions().fingerprint_fields() == {
        "excludes": ["boto3", "botocore", "pip", "s3transfer", "setuptools", "wheel"],
        "kept_when_required": ["pip", "setuptools", "wheel"],
    }
    # A list given by hand is followed as before: same content, same fingerprint as before.
    options = PackageOptions(excludes=("setuptools", "boto3"))
    assert options.fingerprint_fields() == {"excludes": ["boto3", "setuptools"]}
    by_hand = PackageStep(tmp_path / "hand.zip", options).run(tree)
    assert by_hand.fingerprint == compute_fingerprint(
        tree.manifest, TARGET, {"excludes": ["boto3", "setuptools"]}
    )
    assert by_hand.fingerprint != default.fingerprint
    # The zip packaged with the default list is its build's (upload and publish agree).
    assert PackageStep(tmp_path / "layer.zip").last_result(tree).sha256 == default.sha256
