"""A layer with nothing to import is refused before any zip is written, whatever the route."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from layer_builder import (
    BuildResult,
    BuildStep,
    LayerPathLayout,
    LayerTarget,
    LayerWorkflow,
    Manifest,
    PackageError,
    PackageOptions,
    PackageStep,
)
from layer_builder.aws.clients import AwsClients
from layer_builder.steps.package.empty_layer import is_importable
from tests.conftest import MakeProject, WheelIndex

TARGET = LayerTarget("3.12", "x86_64")
WHERE = "python3.12 x86_64 (manylinux glibc <= 2.34)"


def _build(project: Path) -> BuildResult:
    return BuildStep(TARGET, Manifest.from_project(project), LayerPathLayout(project)).run()


def _refusal(build: BuildResult, path_zip: Path, step: PackageStep | None = None) -> str:
    """The message of the refusal; nothing is left beside the zip but the folder lock."""
    path_zip.parent.mkdir(parents=True, exist_ok=True)
    with pytest.raises(PackageError) as caught:
        (step or PackageStep(path_zip)).run(build)
    assert sorted(p.name for p in path_zip.parent.iterdir()) == [".lock"]
    return str(caught.value)


def test_every_distribution_excluded_is_refused(make_project: MakeProject, tmp_path: Path) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    build = _build(project)
    path_zip = tmp_path / "out" / "layer.zip"
    step = PackageStep(path_zip, PackageOptions(excludes=("tinyutil", "TinyHTTP")))
    assert _refusal(build, path_zip, step) == (
        f"the layer would be empty: every distribution in {build.dir_python} (built from "
        f"{project / 'requirements.txt'} for {WHERE}) is excluded (tinyhttp, tinyutil); ship "
        f"some of them (name only the others in --exclude, or exclude = [...] in "
        f"[tool.layer_builder]), or add what the function needs to requirements.txt"
    )


def test_only_what_the_runtime_provides_is_refused(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project({"s3transfer": "99.0.0"})
    build = _build(project)
    message = _refusal(build, tmp_path / "out" / "layer.zip")
    assert message.endswith(
        "is excluded (s3transfer); the Lambda runtime provides them: add what else the "
        "function needs to requirements.txt"
    )


def test_a_manifest_whose_only_marker_is_false_for_the_target_is_refused(
    wheel_index: WheelIndex, tmp_path: Path
) -> None:
    """The tree such a manifest gives: nothing installed. (The installers refuse this manifest
    when they read it; a tree from a build step of one's own reaches the package step.)"""
    project = tmp_path / "app"
    project.mkdir()
    (hash_,) = wheel_index.hashes_of("tinyutil", "1.0.0")
    (project / "requirements.txt").write_text(
        f'tinyutil==1.0.0 ; python_version < "3.12" --hash=sha256:{hash_}\n'
    )
    build = BuildResult(
        dir_python=project / "python",
        manifest=Manifest.from_project(project),
        target=TARGET,
        distributions=(),
        installer="a build step of one's own",
    )
    build.dir_python.mkdir()
    assert _refusal(build, tmp_path / "out" / "layer.zip") == (
        f"the layer would be empty: {build.dir_python} (built from "
        f"{project / 'requirements.txt'} for {WHERE}) holds no distribution, as no requirement "
        f"of requirements.txt applies to {WHERE} (every marker false for it) or it lists none; "
        f"add the function's dependencies to requirements.txt, or build for the target its "
        f"markers name (--python, --arch)"
    )


class MetadataOnly(PackageStep):
    """Leaves out every module: only the distributions' metadata would go in."""

    def select_files(self, files: dict[str, Path]) -> dict[str, Path]:
        return {k: v for k, v in files.items() if ".dist-info/" in k}


def test_distributions_left_with_nothing_to_import_are_refused(
    make_project: MakeProject, tmp_path: Path
) -> None:
    build = _build(make_project({"tinyutil": "1.0.0", "s3transfer": "99.0.0"}))
    path_zip = tmp_path / "out" / "layer.zip"
    message = _refusal(build, path_zip, MetadataOnly(path_zip))
    assert message.startswith(
        f"the layer would hold nothing to import: of {build.dir_python} (built from "
    )
    assert message.endswith(
        "tinyutil leave no module or package in the zip (excluded: s3transfer); package "
        "without --slim, check what select_files() leaves out, or add the function's "
        "dependencies to requirements.txt"
    )


def test_the_previous_zip_stays_as_it_was(make_project: MakeProject, tmp_path: Path) -> None:
    build = _build(make_project({"tinyutil": "1.0.0"}))
    path_zip = tmp_path / "layer.zip"
    previous = PackageStep(path_zip).run(build)
    with pytest.raises(PackageError, match="the layer would be empty: every distribution"):
        PackageStep(path_zip, PackageOptions(excludes=("tinyutil",))).run(build)
    with zipfile.ZipFile(path_zip) as zf:
        assert "python/tinyutil/__init__.py" in zf.namelist()
    assert PackageStep(path_zip).last_result(build).sha256 == previous.sha256
    assert not list(tmp_path.glob("*.partial"))


def test_run_publishes_no_empty_layer(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project({"s3transfer": "99.0.0"})
    workflow = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)
    with pytest.raises(PackageError, match="the layer would be empty"):
        workflow.run()
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []
    assert aws.s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize(
    ("relative", "importable"),
    [
        ("six.py", True),
        ("_cffi_backend.cpython-312-x86_64-linux-gnu.so", True),
        ("yaml/__init__.py", True),
        ("ns/sub/mod.pyc", True),
        ("tinyutil-1.0.0.dist-info/METADATA", False),
        ("numpy.libs/libopenblas.so", False),
        ("__pycache__/six.cpython-312.pyc", False),
        ("distutils-precedence.pth", False),
        ("yaml/py.typed", False),
    ],
)
def test_what_counts_as_importable(relative: str, importable: bool) -> None:
    assert is_importable(relative) is importable
