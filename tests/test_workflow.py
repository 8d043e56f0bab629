"""The four steps chained by LayerWorkflow against the moto server."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from layer_builder import (
    AwsClients,
    AwsError,
    BuildOptions,
    BuildResult,
    ConfigurationError,
    InstallOptions,
    LayerBuilderError,
    LayerTarget,
    LayerWorkflow,
    Manifest,
    PackageResult,
    PublishOptions,
    UploadResult,
    UvInstaller,
    WorkflowResult,
)
from tests.aws_helpers import CallLog, HandmadeWorkflow, count_calls, make_manifest, object_keys
from tests.conftest import MakeProject, WheelIndex
from tests.installers.projects import write_uv_project


def test_run_publishes_then_reruns_as_no_op(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0"})
    workflow = LayerWorkflow(
        project, layer_name, f"s3://{bucket}/app/lambda/", LayerTarget("3.12", "arm64"), aws=aws
    )
    first = workflow.run()
    assert first.publish.published
    assert first.publish.layer_version == 1
    with zipfile.ZipFile(first.package.path_zip) as zf:
        names = zf.namelist()
    assert "python/fastcalc/_speedups.cpython-312-aarch64-linux-gnu.so" in names

    assert first.package is not None
    assert workflow.fingerprint == first.package.fingerprint == first.fingerprint
    assert not first.skipped

    # The instant no-op: no build, no zip, no upload, no publish.
    shutil.rmtree(workflow.layout.dir_build)
    calls = count_calls(aws)
    second = workflow.run()
    assert second.skipped
    assert (second.build, second.package, second.upload) == (None, None, None)
    assert not second.publish.published
    assert second.publish.reason == "requirements.txt and build options unchanged since version 1"
    assert second.publish.layer_version == 1
    assert second.publish.layer_version_arn == first.publish.layer_version_arn
    assert second.zip_sha256 == first.package.sha256
    assert calls["PutObject"] == calls["PublishLayerVersion"] == 0
    assert calls["CreateMultipartUpload"] == 0
    assert not workflow.layout.dir_build.exists()


def test_s3_calls_of_a_first_run_and_of_an_unchanged_rerun(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    first = CallLog(aws.s3)
    HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws).run()
    # The unfinished uploads killed runs left (ListMultipartUploads: none), the zip under its
    # sha256 (HeadObject, PutObject), its staging copy (CopyObject), the lock (PutObject,
    # DeleteObject), the check before publishing (HeadObject: S3's SHA-256 of the whole
    # object, nothing read), the version's contents record and SBOM, three manifest backups
    # (00000N/, last-, targets/<target>/last-). A first version has no previous one whose
    # contents to read.
    assert dict(first.counts) == {"HeadBucket": 1, "ListMultipartUploads": 1, "HeadObject": 2,
                                  "PutObject": 7, "CopyObject": 1, "DeleteObject": 1}  # fmt: skip

    rerun = CallLog(aws.s3)
    assert HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws).run().skipped
    assert dict(rerun.counts) == {"HeadBucket": 1, "GetObject": 3}  # the backups are there


def test_no_op_repairs_missing_backups(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = AuditedWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)
    workflow.run()
    aws.s3.delete_object(Bucket=bucket, Key="app/layer/last-requirements.txt")

    result = workflow.run()

    assert result.skipped
    body = aws.s3.get_object(Bucket=bucket, Key="app/layer/last-requirements.txt")["Body"]
    assert body.read() == workflow.manifest.content


def test_force_runs_every_step_although_nothing_changed(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    AuditedWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws).run()
    forced = AuditedWorkflow(
        project, layer_name, f"s3://{bucket}/app/", aws=aws,
        publish_options=PublishOptions(force=True),
    )  # fmt: skip

    result = forced.run()

    assert not result.skipped
    assert forced.seen != []
    assert result.publish.published
    assert result.publish.layer_version == 2
    assert result.publish.reason == "forced (--force) over version 1"


def test_changed_manifest_runs_every_step(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project, b"tinyutil==1.0.0\n")
    AuditedWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws).run()
    make_manifest(project, b"tinyutil==1.1.0\n")
    workflow = AuditedWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)

    result = workflow.run()

    assert not result.skipped
    assert result.publish.layer_version == 2
    assert result.publish.reason == "requirements.txt changed since version 1"


def _handmade_build(directory: Path, manifest: Manifest, target: LayerTarget) -> BuildResult:
    dir_python = directory / "python"
    (dir_python / "handmade").mkdir(parents=True)
    (dir_python / "handmade" / "__init__.py").write_text("VALUE = 1\n")
    return BuildResult(
        dir_python=dir_python,
        manifest=manifest,
        target=target,
        distributions=(),
        installer="by hand",
    )


def test_each_step_runs_alone_from_a_result_built_by_hand(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)

    build = _handmade_build(tmp_path / "tree", workflow.manifest, workflow.target)
    package = workflow.package(build)
    with zipfile.ZipFile(package.path_zip) as zf:
        assert zf.namelist() == ["python/handmade/__init__.py"]

    upload = workflow.upload(package)
    assert upload.zip_sha256 == package.sha256

    # Publish from the object alone, as `layer-builder publish` does in a later job.
    found = UploadResult.from_s3_object(aws.s3, workflow.s3_layout.s3path_layer_zip)
    publish = workflow.publish(found)
    assert publish.published
    assert publish.layer_version == 1


class AuditedWorkflow(HandmadeWorkflow):
    """Swaps the build step (factory override in HandmadeWorkflow) and adds a hook."""

    def __init__(self, *args: Any, refuse: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.refuse = refuse
        self.seen: list[str] = []

    def after_package(self, result: PackageResult) -> None:
        self.seen.append(result.sha256)
        if self.refuse:
            raise LayerBuilderError("audit refused the layer")


def test_subclass_swaps_a_step_and_adds_a_hook(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = AuditedWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)

    result = workflow.run()

    assert result.build is not None and result.build.installer == "handmade"
    assert result.package is not None
    assert workflow.seen == [result.package.sha256]
    assert result.publish.published


def test_a_hook_that_raises_stops_the_run_before_upload(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = AuditedWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws, refuse=True)

    with pytest.raises(LayerBuilderError, match="audit refused the layer"):
        workflow.run()

    assert object_keys(aws, bucket) == []
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []


def test_missing_bucket_fails_before_any_build(
    tmp_path: Path, aws: AwsClients, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = AuditedWorkflow(project, layer_name, "s3://no-such-bucket-here/app/", aws=aws)

    with pytest.raises(AwsError) as info:
        workflow.run()

    assert str(info.value) == (
        "S3 bucket 'no-such-bucket-here' does not exist: create it or pass another --s3dir"
    )
    assert not workflow.layout.dir_build.exists()
    assert workflow.seen == []


def test_reference_storage_on_an_unversioned_bucket_fails_before_any_build(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = AuditedWorkflow(
        project,
        layer_name,
        f"s3://{bucket}/app/",
        aws=aws,
        publish_options=PublishOptions(storage_mode="REFERENCE"),
    )
    with pytest.raises(ConfigurationError, match="storage mode REFERENCE needs a versioned"):
        workflow.run()
    assert not workflow.layout.dir_build.exists()

    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    result = workflow.run()
    assert result.publish.published
    assert result.upload is not None and result.upload.version_id


def test_adding_an_extra_publishes_a_new_version(
    tmp_path: Path, wheel_index: WheelIndex, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = write_uv_project(
        tmp_path / "app", wheel_index.url, ["tinyutil"], extras={"yaml": ["tiny-yaml"]}
    )
    s3dir = f"s3://{bucket}/app/lambda/"

    def run(extras: tuple[str, ...]) -> WorkflowResult:
        installer = UvInstaller(options=InstallOptions(extras=extras))
        options = BuildOptions(installer=installer)
        return LayerWorkflow(project, layer_name, s3dir, aws=aws, build_options=options).run()

    plain = run(())
    with_extra = run(("yaml",))
    assert (plain.publish.layer_version, with_extra.publish.layer_version) == (1, 2)
    assert with_extra.publish.published
    assert with_extra.build is not None
    assert "Tiny-YAML" in {d.name for d in with_extra.build.distributions}
    assert run(("yaml",)).publish.published is False


def test_a_rebuild_whose_bytes_differ_from_the_newest_version_is_published(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    # Reproduction 3 of issue 19: version 1 was packaged from a tree edited after its build
    # (same fingerprint, other bytes). A rebuild makes the clean bytes and publishes them.
    project = tmp_path / "project"
    make_manifest(project)
    s3dir = f"s3://{bucket}/app/"
    first = HandmadeWorkflow(project, layer_name, s3dir, aws=aws)
    edited = _handmade_build(tmp_path / "edited", first.manifest, first.target)
    (edited.dir_python / "handmade" / "__init__.py").write_text("VALUE = 1\nX = 'edited'\n")
    version_1 = first.publish(first.upload(first.package(edited)))
    assert version_1.published
    # The instant no-op stays as it is: the label matches, nothing is built.
    assert HandmadeWorkflow(project, layer_name, s3dir, aws=aws).run().skipped
    rebuild = BuildOptions(use_cache=False)

    rebuilt = HandmadeWorkflow(project, layer_name, s3dir, aws=aws, build_options=rebuild).run()

    assert not rebuilt.skipped and rebuilt.package is not None
    assert rebuilt.publish.published
    assert rebuilt.publish.layer_version == 2
    assert rebuilt.publish.reason == (
        f"the zip's bytes differ from version 1's (sha256 {rebuilt.package.sha256[:12]} "
        f"instead of {version_1.zip_sha256[:12]}), requirements.txt and build options unchanged"
    )
    again = HandmadeWorkflow(project, layer_name, s3dir, aws=aws, build_options=rebuild).run()
    assert not again.skipped
    assert not again.publish.published
    assert again.publish.reason == "requirements.txt and build options unchanged since version 2"
