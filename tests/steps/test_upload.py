"""UploadStep and UploadResult against the moto server."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import attrs
import pytest
from boto3.s3.transfer import TransferConfig

from layer_builder import (
    AwsClients,
    AwsError,
    LayerS3Layout,
    StaleUploadError,
    UploadResult,
    UploadStep,
)
from layer_builder.model.s3path import S3Path
from tests.aws_helpers import count_calls, make_manifest, make_package


def test_upload_puts_zip_with_checksum_metadata_and_content_type(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    layout = LayerS3Layout(f"s3://{bucket}/projects/app/lambda/")

    result = UploadStep(layout, manifest, aws.s3).run(package)

    head = aws.s3.head_object(Bucket=bucket, Key="projects/app/lambda/layer/layer.zip",
                              ChecksumMode="ENABLED")  # fmt: skip
    assert head["ContentType"] == "application/zip"
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == package.sha256
    assert head["Metadata"] == {
        "manifest-sha256": manifest.sha256,
        "manifest-file": "requirements.txt",
        "zip-sha256": package.sha256,
        "fingerprint": package.fingerprint,
    }
    body = aws.s3.get_object(Bucket=bucket, Key="projects/app/lambda/layer/layer.zip")["Body"]
    assert body.read() == package.path_zip.read_bytes()
    assert result.uploaded
    assert result.s3_uri == f"s3://{bucket}/projects/app/lambda/layer/layer.zip"
    assert result.etag == head["ETag"]
    assert result.version_id is None
    assert (result.zip_sha256, result.manifest_sha256, result.fingerprint) == (
        package.sha256, manifest.sha256, package.fingerprint,
    )  # fmt: skip
    assert result.console_url.startswith("https://")
    assert bucket in result.console_url
    assert "projects/app/lambda/layer/layer.zip" in result.console_url


def test_upload_logs_the_uri_and_console_url(
    tmp_path: Path, aws: AwsClients, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    caplog.set_level("INFO", logger="layer_builder")
    result = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3).run(package)
    assert result.s3_uri in caplog.text
    assert result.console_url in caplog.text


def test_upload_to_a_versioned_bucket_names_the_version(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    manifest = make_manifest(tmp_path / "project")
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    first = UploadStep(layout, manifest, aws.s3).run(make_package(tmp_path / "a", manifest))
    second = UploadStep(layout, manifest, aws.s3).run(
        make_package(tmp_path / "b", manifest, payload=b"VALUE = 2\n")
    )
    assert first.version_id and second.version_id
    assert first.version_id != second.version_id
    old = aws.s3.head_object(Bucket=bucket, Key="app/layer/layer.zip", VersionId=first.version_id)
    assert old["Metadata"]["zip-sha256"] == first.zip_sha256


def test_upload_result_from_s3_object_reads_the_metadata(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    manifest = make_manifest(tmp_path / "project")
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    uploaded = UploadStep(layout, manifest, aws.s3).run(make_package(tmp_path / "a", manifest))

    found = UploadResult.from_s3_object(aws.s3, layout.s3path_layer_zip)

    assert found == attrs.evolve(uploaded, uploaded=False)
    pinned = UploadResult.from_s3_object(aws.s3, layout.s3path_layer_zip, uploaded.version_id)
    assert pinned.version_id == uploaded.version_id


def test_upload_result_from_a_foreign_object_says_what_to_do(aws: AwsClients, bucket: str) -> None:
    aws.s3.put_object(Bucket=bucket, Key="app/layer/layer.zip", Body=b"not ours")
    s3path = S3Path(bucket, "app/layer/layer.zip")
    with pytest.raises(AwsError) as info:
        UploadResult.from_s3_object(aws.s3, s3path)
    assert str(info.value) == (
        f"s3://{bucket}/app/layer/layer.zip was not uploaded by layer_builder (no "
        "manifest-sha256, zip-sha256, fingerprint metadata): run `layer-builder upload` first"
    )


def test_upload_result_from_a_missing_object_is_an_aws_error(aws: AwsClients, bucket: str) -> None:
    with pytest.raises(AwsError, match=rf"reading s3://{bucket}/app/layer/layer.zip failed: 404"):
        UploadResult.from_s3_object(aws.s3, S3Path(bucket, "app/layer/layer.zip"))


def test_upload_to_a_missing_bucket_is_an_aws_error(tmp_path: Path, aws: AwsClients) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    step = UploadStep(LayerS3Layout("s3://no-such-bucket-here/app/"), manifest, aws.s3)
    with pytest.raises(AwsError) as info:
        step.run(package)
    message = str(info.value)
    assert message.startswith(f"uploading {package.path_zip} to s3://no-such-bucket-here/")
    assert "NoSuchBucket" in message
    assert message.endswith("create the bucket or pass another --s3dir")


def test_same_zip_already_there_is_not_uploaded_again(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    first = UploadStep(layout, manifest, aws.s3).run(make_package(tmp_path / "a", manifest))
    calls = count_calls(aws)

    again = UploadStep(layout, manifest, aws.s3).run(make_package(tmp_path / "b", manifest))

    assert not again.uploaded
    assert calls["PutObject"] == calls["CreateMultipartUpload"] == 0
    assert again == attrs.evolve(first, uploaded=False)


def test_same_zip_for_another_manifest_is_uploaded_with_new_metadata(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    old = make_manifest(tmp_path / "old", b"tinyutil==1.0.0\n")
    UploadStep(layout, old, aws.s3).run(make_package(tmp_path / "a", old))
    # A comment changes the manifest, not the zip: the metadata must follow the manifest.
    new = make_manifest(tmp_path / "new", b"# pinned\ntinyutil==1.0.0\n")

    result = UploadStep(layout, new, aws.s3).run(make_package(tmp_path / "b", new))

    assert result.uploaded
    head = aws.s3.head_object(Bucket=bucket, Key="app/layer/layer.zip")
    assert head["Metadata"]["manifest-sha256"] == new.sha256


def test_large_zip_goes_up_in_parallel_parts_with_progress(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    # Incompressible bytes: 11 MB of zip, three parts of 5 MB (S3's smallest part).
    package = make_package(tmp_path / "build", manifest, payload=os.urandom(11 * 1024 * 1024))
    config = TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    reports: list[tuple[int, int]] = []
    calls = count_calls(aws)
    step = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3,
                      progress=lambda sent, total: reports.append((sent, total)),
                      transfer_config=config)  # fmt: skip

    result = step.run(package)

    assert calls["CreateMultipartUpload"] == 1
    assert calls["UploadPart"] == 3
    assert calls["PutObject"] == 0
    assert result.uploaded
    head = aws.s3.head_object(Bucket=bucket, Key="app/layer/layer.zip", ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/zip"
    assert head["ContentLength"] == package.zip_size
    assert head["Metadata"]["zip-sha256"] == package.sha256
    assert head["Metadata"]["fingerprint"] == package.fingerprint
    assert "ChecksumSHA256" in head  # composite: the SHA-256 of the parts' SHA-256s
    assert result.etag == head["ETag"]
    body = aws.s3.get_object(Bucket=bucket, Key="app/layer/layer.zip")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == package.sha256
    assert reports[-1] == (package.zip_size, package.zip_size)
    assert [sent for sent, _ in reports] == sorted(sent for sent, _ in reports)


def test_small_zip_reports_progress_once(tmp_path: Path, aws: AwsClients, bucket: str) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    reports: list[tuple[int, int]] = []
    step = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3,
                      progress=lambda sent, total: reports.append((sent, total)))  # fmt: skip
    step.run(package)
    assert reports == [(package.zip_size, package.zip_size)]


def test_zip_replaced_during_a_multipart_upload_is_a_stale_upload(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest, payload=os.urandom(6 * 1024 * 1024))
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024)

    def another_run_uploads(**_: object) -> None:
        # Between the last part and the read-back, a concurrent run puts its own zip.
        aws.s3.put_object(Bucket=bucket, Key="app/layer/layer.zip", Body=b"other",
                          Metadata={"zip-sha256": "0" * 64})  # fmt: skip

    aws.s3.meta.events.register("after-call.s3.CompleteMultipartUpload", another_run_uploads)
    step = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3,
                      transfer_config=config)  # fmt: skip
    with pytest.raises(StaleUploadError) as info:
        step.run(package)
    assert str(info.value) == (
        f"s3://{bucket}/app/layer/layer.zip was replaced while it was uploaded, probably by a "
        "concurrent run: run the upload again"
    )
