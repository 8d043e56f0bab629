"""An AWS failure at any call of a run leaves nothing a rerun cannot finish."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from layer_builder import AwsClients, AwsError, VersionStamp
from tests.aws_helpers import HandmadeWorkflow, failing, make_manifest, object_keys

# Every AWS call of a first run, in order: (client, operation, which occurrence).
CALLS = [
    ("s3", "HeadBucket", 1),
    ("lambda_", "ListLayerVersions", 1),  # the instant no-op check
    ("lambda_", "ListLayerVersions", 2),  # the version to compare the new zip with
    ("s3", "HeadObject", 1),  # is zips/<sha256>.zip already there?
    ("s3", "PutObject", 1),  # zips/<sha256>.zip
    ("s3", "CopyObject", 1),  # its staging copy, layer.zip
    ("s3", "PutObject", 2),  # layer/.publish.lock
    ("lambda_", "ListLayerVersions", 3),
    ("s3", "HeadObject", 2),  # is zips/<sha256>.zip still there?
    ("lambda_", "PublishLayerVersion", 1),
    ("s3", "PutObject", 3),  # 000001/contents.json
    ("s3", "PutObject", 4),  # 000001/sbom.cdx.json
    ("s3", "PutObject", 5),  # 000001/requirements.txt
    ("s3", "PutObject", 6),  # last-requirements.txt
    ("s3", "PutObject", 7),  # targets/python3.12-x86_64/last-requirements.txt
]


def _converged(aws: AwsClients, bucket: str, layer_name: str, workflow: HandmadeWorkflow) -> None:
    versions = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    stamp = VersionStamp.from_description(versions[0]["Description"])
    assert stamp is not None and stamp.fingerprint == workflow.fingerprint
    [zip_key] = object_keys(aws, bucket, "app/layer/zips/")
    assert object_keys(aws, bucket) == [
        "app/layer/000001/contents.json",
        "app/layer/000001/requirements.txt",
        "app/layer/000001/sbom.cdx.json",
        "app/layer/last-requirements.txt",
        "app/layer/layer.zip",
        "app/layer/targets/python3.12-x86_64/last-requirements.txt",
        zip_key,
    ]
    code = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)["Content"]
    assert zip_key == f"app/layer/zips/{base64.b64decode(code['CodeSha256']).hex()}.zip"
    for key in (
        "app/layer/000001/requirements.txt",
        "app/layer/last-requirements.txt",
        "app/layer/targets/python3.12-x86_64/last-requirements.txt",
    ):
        body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert body == workflow.manifest.content
    contents = aws.s3.get_object(Bucket=bucket, Key="app/layer/000001/contents.json")["Body"]
    assert contents.read() == workflow.layout.path_contents.read_bytes()


@pytest.mark.parametrize("after", [False, True], ids=["request-lost", "response-lost"])
@pytest.mark.parametrize(("client", "operation", "nth"), CALLS)
def test_rerun_after_a_failure_converges(
    tmp_path: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    client: str,
    operation: str,
    nth: int,
    after: bool,
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)

    with (
        failing(getattr(aws, client), operation, nth, after) as seen,
        pytest.raises(AwsError, match="failed: InternalError injected failure"),
    ):
        workflow.run()
    assert seen[0] == nth

    workflow.run()
    _converged(aws, bucket, layer_name, workflow)


def test_no_manifest_backup_before_the_version_exists(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)

    with (
        failing(aws.lambda_, "PublishLayerVersion"),
        pytest.raises(AwsError) as info,
    ):
        workflow.run()

    [zip_key] = object_keys(aws, bucket, "app/layer/zips/")
    assert str(info.value) == (
        f"publishing layer {layer_name!r} from s3://{bucket}/{zip_key} failed: "
        "InternalError injected failure: see the AWS error above"
    )
    assert object_keys(aws, bucket) == ["app/layer/layer.zip", zip_key]


def test_rerun_after_a_lost_publish_response_publishes_nothing_more(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)
    with failing(aws.lambda_, "PublishLayerVersion", after=True), pytest.raises(AwsError):
        workflow.run()

    result = workflow.run()

    # The version was made although the caller never heard of it: the rerun adopts it.
    assert result.skipped
    assert not result.publish.published
    assert result.publish.layer_version == 1


@pytest.mark.parametrize("after", [False, True], ids=["request-lost", "response-lost"])
def test_a_failed_lock_release_does_not_fail_the_run(
    tmp_path: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    after: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    workflow = HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)

    with failing(aws.s3, "DeleteObject", after=after):
        result = workflow.run()

    assert result.publish.published
    lock_left = "app/layer/.publish.lock" in object_keys(aws, bucket)
    assert lock_left is not after
    if not after:
        assert f"could not release s3://{bucket}/app/layer/.publish.lock" in caplog.text
        aws.s3.delete_object(Bucket=bucket, Key="app/layer/.publish.lock")
    assert workflow.run().skipped
    _converged(aws, bucket, layer_name, workflow)
