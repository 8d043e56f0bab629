"""prune and plan in the layer's S3 folder: unneeded zips, unfinished multipart uploads."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import botocore.exceptions
import pytest

from layer_builder import (
    AwsClients,
    LayerS3Layout,
    PublishOptions,
    RetentionPolicy,
    UploadStep,
    prune,
)
from layer_builder.plan import plan_run
from tests.aws_helpers import (
    HandmadeWorkflow,
    count_calls,
    make_manifest,
    make_package,
    object_keys,
)

LATER = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=10)


def _publish(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str, pin: str, force: bool = False
) -> str:
    """Publish a version of ``tinyutil==pin``; returns the sha256 of its zip."""
    project = tmp_path / "project"
    make_manifest(project, f"tinyutil=={pin}\n".encode())
    workflow = HandmadeWorkflow(
        project, layer_name, f"s3://{bucket}/app/", aws=aws,
        publish_options=PublishOptions(force=force),
    )  # fmt: skip
    result = workflow.run()
    assert result.publish.published
    assert result.zip_sha256 is not None
    return result.zip_sha256


def _code_sha256(aws: AwsClients, layer_name: str, version: int) -> str:
    content = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=version)["Content"]
    return base64.b64decode(content["CodeSha256"]).hex()


def _zip_key(sha256: str) -> str:
    return f"app/layer/zips/{sha256}.zip"


def test_prune_deletes_the_zips_no_kept_version_needs(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    a = _publish(tmp_path, aws, bucket, layer_name, "1.0.0")
    # Uploaded but never published (a run that lost, or failed before publishing).
    orphan_manifest = make_manifest(tmp_path / "orphan", b"orphan==1\n")
    orphan = make_package(tmp_path / "orphan-build", orphan_manifest, payload=b"ORPHAN\n")
    UploadStep(layout, orphan_manifest, aws.s3).run(orphan)
    b = _publish(tmp_path, aws, bucket, layer_name, "1.1.0")
    c = _publish(tmp_path, aws, bucket, layer_name, "1.2.0")
    policy = RetentionPolicy(keep_last=2)
    calls = count_calls(aws)

    dry = prune(aws.lambda_, layer_name, policy, now=LATER, s3=aws.s3, s3_layout=layout)

    assert dry.storage is not None
    assert {z.sha256 for z in dry.storage.zips_deleted} == {a, orphan.sha256}
    assert {z.sha256 for z in dry.storage.zips_kept} == {b, c}
    assert calls["DeleteObject"] == calls["DeleteLayerVersion"] == 0
    assert len(object_keys(aws, bucket, "app/layer/zips/")) == 4

    done = prune(aws.lambda_, layer_name, policy, yes=True, now=LATER, s3=aws.s3, s3_layout=layout)

    assert done.storage is not None and not done.dry_run
    assert [v.version for v in done.kept] == [3, 2]
    assert object_keys(aws, bucket, "app/layer/zips/") == sorted([_zip_key(b), _zip_key(c)])
    # Never a zip a kept version was published from.
    for version in done.kept:
        assert _zip_key(_code_sha256(aws, layer_name, version.version)) in object_keys(aws, bucket)
    # The staged copy, the manifest backups and the other versions' records stay.
    assert "app/layer/layer.zip" in object_keys(aws, bucket)
    again = prune(aws.lambda_, layer_name, policy, yes=True, now=LATER, s3=aws.s3, s3_layout=layout)
    assert again.storage is not None and again.storage.zips_deleted == ()


def test_a_zip_shared_by_a_kept_and_a_deleted_version_is_kept(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    a = _publish(tmp_path, aws, bucket, layer_name, "1.0.0")
    b = _publish(tmp_path, aws, bucket, layer_name, "1.1.0")
    again = _publish(tmp_path, aws, bucket, layer_name, "1.0.0", force=True)  # version 3
    assert again == a

    result = prune(aws.lambda_, layer_name, RetentionPolicy(keep_last=1), yes=True, now=LATER,
                   s3=aws.s3, s3_layout=layout)  # fmt: skip

    assert [v.version for v in result.deleted] == [2, 1]
    assert result.storage is not None
    assert [z.sha256 for z in result.storage.zips_deleted] == [b]
    assert object_keys(aws, bucket, "app/layer/zips/") == [_zip_key(a)]


def test_the_zip_staged_in_layer_zip_is_kept(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    _publish(tmp_path, aws, bucket, layer_name, "1.0.0")
    # Uploaded for a later `layer-builder publish`: layer.zip stages it.
    staged_manifest = make_manifest(tmp_path / "staged", b"tinyutil==2.0.0\n")
    staged = make_package(tmp_path / "staged-build", staged_manifest, payload=b"NEXT\n")
    UploadStep(layout, staged_manifest, aws.s3).run(staged)

    result = prune(aws.lambda_, layer_name, RetentionPolicy(keep_last=1), yes=True, now=LATER,
                   s3=aws.s3, s3_layout=layout)  # fmt: skip

    assert result.storage is not None and result.storage.zips_deleted == ()
    assert _zip_key(staged.sha256) in object_keys(aws, bucket)


def test_recent_zips_and_uploads_are_left_to_the_runs_in_flight(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    a = _publish(tmp_path, aws, bucket, layer_name, "1.0.0")
    _publish(tmp_path, aws, bucket, layer_name, "1.1.0")
    aws.s3.create_multipart_upload(Bucket=bucket, Key=_zip_key("f" * 64))
    # moto dates every multipart upload 2010-11-10: a grace of a century covers it.
    grace = datetime.timedelta(days=36500)

    result = prune(aws.lambda_, layer_name, RetentionPolicy(keep_last=1), yes=True,
                   s3=aws.s3, s3_layout=layout, grace=grace)  # fmt: skip

    assert result.storage is not None
    assert result.storage.zips_deleted == ()
    assert a in {z.sha256 for z in result.storage.zips_kept}
    assert result.storage.uploads_aborted == ()
    assert [u.s3path.key for u in result.storage.uploads_in_progress] == [_zip_key("f" * 64)]
    assert len(aws.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1


def test_prune_aborts_the_unfinished_uploads_under_the_layer_folder_only(
    aws: AwsClients, bucket: str, layer_name: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    mine = aws.s3.create_multipart_upload(Bucket=bucket, Key=_zip_key("e" * 64))
    aws.s3.upload_part(Bucket=bucket, Key=_zip_key("e" * 64), UploadId=mine["UploadId"],
                       PartNumber=1, Body=b"part")  # fmt: skip
    aws.s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/big.bin")
    policy = RetentionPolicy(keep_last=1)

    dry = prune(aws.lambda_, layer_name, policy, s3=aws.s3, s3_layout=layout)

    assert dry.storage is not None
    [listed] = dry.storage.uploads_aborted
    assert (listed.s3path.key, listed.upload_id) == (_zip_key("e" * 64), mine["UploadId"])
    assert len(aws.s3.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 2

    done = prune(aws.lambda_, layer_name, policy, yes=True, s3=aws.s3, s3_layout=layout)

    assert done.storage is not None and len(done.storage.uploads_aborted) == 1
    left = aws.s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["Key"] for u in left] == ["elsewhere/big.bin"]


def test_plan_lists_unfinished_uploads_and_changes_nothing(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    started = aws.s3.create_multipart_upload(Bucket=bucket, Key=_zip_key("d" * 64))
    make_manifest(tmp_path / "project")
    workflow = HandmadeWorkflow(tmp_path / "project", layer_name, f"s3://{bucket}/app/", aws=aws)
    calls = count_calls(aws)

    plan = plan_run(workflow)

    [upload] = plan.home.incomplete_uploads
    assert (upload.s3path.key, upload.upload_id) == (_zip_key("d" * 64), started["UploadId"])
    assert plan.to_json()["incomplete_uploads"] == [
        {
            "s3_uri": f"s3://{bucket}/{_zip_key('d' * 64)}",
            "upload_id": started["UploadId"],
            "initiated": upload.initiated.isoformat(),
        }
    ]
    assert calls["AbortMultipartUpload"] == 0
    assert len(aws.s3.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1


def test_plan_without_the_right_to_list_uploads_still_plans(
    tmp_path: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refused(**_: object) -> None:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListMultipartUploads"
        )

    make_manifest(tmp_path / "project")
    workflow = HandmadeWorkflow(tmp_path / "project", layer_name, f"s3://{bucket}/app/", aws=aws)
    aws.s3.meta.events.register("before-call.s3.ListMultipartUploads", refused)
    try:
        plan = plan_run(workflow)
    finally:
        aws.s3.meta.events.unregister("before-call.s3.ListMultipartUploads", refused)

    assert plan.home.publish
    assert plan.home.incomplete_uploads == ()
    assert "not listing the unfinished uploads: listing the unfinished multipart uploads" in (
        caplog.text
    )
    assert "AccessDenied" in caplog.text
