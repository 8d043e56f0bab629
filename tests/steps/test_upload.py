"""UploadStep and UploadResult against the moto server."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path

import attrs
import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig

from layer_builder import (
    AwsClients,
    AwsError,
    LayerS3Layout,
    LayerTarget,
    MismatchedBuildError,
    PackageResult,
    ProjectError,
    StaleUploadError,
    UploadResult,
    UploadStep,
)
from layer_builder.archive import zipformat
from layer_builder.model.s3path import S3Path
from layer_builder.steps.upload import staged_upload
from layer_builder.steps.upload_body import VerifiedReader
from tests.aws_helpers import count_calls, make_manifest, make_package, object_keys


def test_upload_puts_zip_under_its_sha256_and_stages_a_labelled_copy(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    layout = LayerS3Layout(f"s3://{bucket}/projects/app/lambda/")
    calls = count_calls(aws)

    result = UploadStep(layout, manifest, aws.s3).run(package)

    key = f"projects/app/lambda/layer/zips/{package.sha256}.zip"
    head = aws.s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/zip"
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == package.sha256
    assert head["Metadata"] == {"zip-sha256": package.sha256}
    assert aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == package.path_zip.read_bytes()
    staging = aws.s3.head_object(Bucket=bucket, Key="projects/app/lambda/layer/layer.zip",
                                 ChecksumMode="ENABLED")  # fmt: skip
    assert staging["ContentType"] == "application/zip"
    assert base64.b64decode(staging["ChecksumSHA256"]).hex() == package.sha256
    assert staging["Metadata"] == {
        "manifest-sha256": manifest.sha256,
        "manifest-file": "requirements.txt",
        "zip-sha256": package.sha256,
        "fingerprint": package.fingerprint,
        # The zip's target, from its identity: publish needs no --python/--arch.
        "runtime": "python3.12",
        "architecture": "x86_64",
    }
    # The bytes went up once; the staging copy was made by S3 itself.
    assert (calls["PutObject"], calls["CopyObject"]) == (1, 1)
    assert result.uploaded
    assert result.s3_uri == f"s3://{bucket}/{key}"
    assert result.etag == head["ETag"]
    assert result.version_id is None
    assert (result.zip_sha256, result.manifest_sha256, result.fingerprint) == (
        package.sha256, manifest.sha256, package.fingerprint,
    )  # fmt: skip
    assert result.console_url.startswith("https://")
    assert bucket in result.console_url
    assert key in result.console_url


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
    assert first.s3path != second.s3path
    old = aws.s3.head_object(Bucket=bucket, Key=first.s3path.key, VersionId=first.version_id)
    assert old["Metadata"]["zip-sha256"] == first.zip_sha256


def test_upload_result_from_s3_object_reads_the_labels_of_the_staging_copy(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    manifest = make_manifest(tmp_path / "project")
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    uploaded = UploadStep(layout, manifest, aws.s3).run(make_package(tmp_path / "a", manifest))

    labels = UploadResult.from_s3_object(aws.s3, layout.s3path_layer_zip)
    staged = staged_upload(aws.s3, layout)

    assert labels.s3path == layout.s3path_layer_zip
    assert (labels.zip_sha256, labels.manifest_sha256, labels.fingerprint) == (
        uploaded.zip_sha256, uploaded.manifest_sha256, uploaded.fingerprint,
    )  # fmt: skip
    # What is staged names the immutable zip, pinned to the version uploaded.
    assert staged == attrs.evolve(uploaded, uploaded=False)
    pinned = UploadResult.from_s3_object(aws.s3, layout.s3path_layer_zip, labels.version_id)
    assert pinned.version_id == labels.version_id


def test_nothing_staged_is_none(aws: AwsClients, bucket: str) -> None:
    assert staged_upload(aws.s3, LayerS3Layout(f"s3://{bucket}/app/")) is None


def test_staged_zip_that_was_pruned_says_to_upload_again(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    uploaded = UploadStep(layout, manifest, aws.s3).run(make_package(tmp_path / "a", manifest))
    aws.s3.delete_object(Bucket=bucket, Key=uploaded.s3path.key)

    with pytest.raises(StaleUploadError) as info:
        staged_upload(aws.s3, layout)

    assert str(info.value) == (
        f"{uploaded.s3_uri}, the zip that s3://{bucket}/app/layer/layer.zip stages, no longer "
        "exists: run `layer-builder upload` again"
    )


def test_staging_copy_naming_no_sha256_is_refused(aws: AwsClients, bucket: str) -> None:
    labels = {"manifest-sha256": "0" * 64, "zip-sha256": "../x", "fingerprint": "0" * 64}
    aws.s3.put_object(Bucket=bucket, Key="app/layer/layer.zip", Body=b"PK", Metadata=labels)
    with pytest.raises(AwsError) as info:
        staged_upload(aws.s3, LayerS3Layout(f"s3://{bucket}/app/"))
    assert str(info.value) == (
        f"s3://{bucket}/app/layer/layer.zip carries a zip-sha256 that is not a sha256 ('../x'): "
        "run `layer-builder upload` again"
    )


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
    assert calls["PutObject"] == calls["CreateMultipartUpload"] == calls["CopyObject"] == 0
    assert calls["HeadObject"] == 2  # the zip, its staging copy
    assert again == attrs.evolve(first, uploaded=False)


def test_another_manifests_zip_is_its_own_object_staged_with_its_labels(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    old = make_manifest(tmp_path / "old", b"tinyutil==1.0.0\n")
    first = UploadStep(layout, old, aws.s3).run(make_package(tmp_path / "a", old))
    # Even a comment changes the manifest, and the zip's identity names the manifest: the
    # zip is another object, never the first one relabelled.
    new = make_manifest(tmp_path / "new", b"# pinned\ntinyutil==1.0.0\n")

    result = UploadStep(layout, new, aws.s3).run(make_package(tmp_path / "b", new))

    assert result.uploaded
    assert result.s3path != first.s3path
    assert result.manifest_sha256 == new.sha256
    head = aws.s3.head_object(Bucket=bucket, Key="app/layer/layer.zip")
    assert head["Metadata"]["manifest-sha256"] == new.sha256
    assert head["Metadata"]["zip-sha256"] == result.zip_sha256


def test_a_zip_of_another_manifest_is_refused_before_any_call(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    built_from = make_manifest(tmp_path / "a", b"tinyutil==1.0.0\n")
    current = make_manifest(tmp_path / "b", b"tinyutil==1.1.0\n")
    package = make_package(tmp_path / "zip", built_from)
    calls = count_calls(aws)
    with pytest.raises(MismatchedBuildError) as caught:
        UploadStep(layout, current, aws.s3).run(package)
    assert str(caught.value) == (
        f"{package.path_zip} was packaged from another requirements.txt than the one in "
        f"{tmp_path / 'b'}: run `layer-builder build` and `layer-builder package` again (or "
        f"`layer-builder run`) before uploading"
    )
    assert sum(calls.counts.values()) == 0


def test_a_zip_of_another_build_is_refused_when_the_build_is_known(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    manifest = make_manifest(tmp_path / "a", b"tinyutil==1.0.0\n")
    arm = make_package(tmp_path / "zip", manifest, LayerTarget("3.12", "arm64"))
    x86 = make_package(tmp_path / "x86", manifest, LayerTarget("3.12", "x86_64"))
    step = UploadStep(layout, manifest, aws.s3, expected_fingerprint=x86.fingerprint)
    with pytest.raises(MismatchedBuildError) as caught:
        step.run(arm)
    assert str(caught.value) == (
        f"{arm.path_zip} was packaged for another target or with other options (made for "
        f"python3.12 arm64) than this command's: pass the --python, --arch and package options "
        f"given to `layer-builder package`, or package again"
    )
    assert step.run(x86).fingerprint == x86.fingerprint


def test_a_foreign_object_under_the_zips_key_is_replaced_by_the_real_bytes(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    key = f"app/layer/zips/{package.sha256}.zip"
    # Claims the sha256 in its metadata, but S3's own checksum says otherwise.
    aws.s3.put_object(Bucket=bucket, Key=key, Body=b"not the zip", ChecksumAlgorithm="SHA256",
                      Metadata={"zip-sha256": package.sha256})  # fmt: skip

    result = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3).run(package)

    assert result.uploaded
    assert aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == package.path_zip.read_bytes()


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
    key = f"app/layer/zips/{package.sha256}.zip"
    head = aws.s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/zip"
    assert head["ContentLength"] == package.zip_size
    assert head["Metadata"] == {"zip-sha256": package.sha256}
    # Copied onto itself after the parts: S3 keeps a SHA-256 of the whole zip, not only of
    # the parts' SHA-256s, so that publishing can check the bytes without reading them.
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == package.sha256
    assert calls["CopyObject"] == 2  # onto itself, then the staging copy
    assert result.etag == head["ETag"]
    staging = aws.s3.head_object(Bucket=bucket, Key="app/layer/layer.zip")
    assert staging["Metadata"]["fingerprint"] == package.fingerprint
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
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
    key = f"app/layer/zips/{package.sha256}.zip"

    def someone_overwrites(**_: object) -> None:
        # Between the last part and the read-back, the zip's key gets other bytes.
        aws.s3.put_object(Bucket=bucket, Key=key, Body=b"other",
                          Metadata={"zip-sha256": "0" * 64})  # fmt: skip

    aws.s3.meta.events.register("after-call.s3.CompleteMultipartUpload", someone_overwrites)
    step = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3,
                      transfer_config=config)  # fmt: skip
    with pytest.raises(StaleUploadError) as info:
        step.run(package)
    assert str(info.value) == (
        f"s3://{bucket}/{key} was deleted or replaced right after it was uploaded (by a prune "
        "or a hand-made change?): run the upload again"
    )


@pytest.mark.parametrize("size", [1024, 11 * 1024 * 1024], ids=["put", "multipart"])
def test_zip_changed_on_disk_since_packaging_is_not_uploaded(
    tmp_path: Path, aws: AwsClients, bucket: str, size: int
) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest, payload=os.urandom(size))
    # Another process packaged again in the same folder: other bytes renamed over the zip.
    other = tmp_path / "other.zip"
    other.write_bytes(os.urandom(size))
    other.replace(package.path_zip)
    config = TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    step = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3,
                      transfer_config=config)  # fmt: skip

    with pytest.raises(StaleUploadError) as info:
        step.run(package)

    assert str(info.value) == (
        f"{package.path_zip} changed since it was packaged (its sha256 is no longer "
        f"{package.sha256}): package it again, then upload"
    )
    # Nothing under the zip's key (a multipart upload is aborted, not completed).
    assert object_keys(aws, bucket) == []
    assert aws.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_the_verified_reader_fails_when_the_file_changes_while_it_is_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "layer.zip"
    original = os.urandom(300_000)
    path.write_bytes(original)
    sha256 = hashlib.sha256(original).hexdigest()
    with path.open("rb") as raw:
        reader = VerifiedReader(raw, path, sha256, len(original))
        assert reader.seek(0, io.SEEK_END) == 300_000  # s3transfer learns the size so
        reader.seek(0)
        assert reader.read(100_000) == original[:100_000]
        with path.open("r+b") as writer:  # written in place, same file, past what was read
            writer.seek(250_000)
            writer.write(b"X" * 10)
        reader.read(100_000)
        with pytest.raises(StaleUploadError, match="changed since it was packaged"):
            reader.read(100_000)


def test_the_verified_reader_sends_exactly_the_packaged_length(tmp_path: Path) -> None:
    path = tmp_path / "layer.zip"
    original = os.urandom(3000)
    path.write_bytes(original + b"appended later")
    sha256 = hashlib.sha256(original).hexdigest()
    with path.open("rb") as raw:
        reader = VerifiedReader(raw, path, sha256, len(original))
        assert reader.read(2000) + reader.read(2000) + reader.read() == original
    path.write_bytes(original[:2500])  # cut short
    with path.open("rb") as raw, pytest.raises(StaleUploadError):
        VerifiedReader(raw, path, sha256, len(original)).read()


# -- bytes, not labels (issue 19) -------------------------------------------------------------


def _with_comment(source: Path, comment: bytes, dest: Path) -> None:
    """Copy the zip ``source`` to ``dest`` with another archive comment (its members kept)."""
    shutil.copyfile(source, dest)
    with zipfile.ZipFile(dest, "a") as zf:
        zf.comment = comment


def test_a_zip_carrying_this_builds_identity_over_other_bytes_is_refused(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    # Reproduction 2 of issue 19: another zip, with this build's identity comment, copied
    # over layer.zip. Its comment matches the build; the package step's record does not.
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    other = make_package(tmp_path / "other", manifest, payload=b"OTHER = 2\n")
    _with_comment(other.path_zip, zipformat.read_comment(package.path_zip), package.path_zip)
    copied = PackageResult.from_zip(package.path_zip)  # what `layer-builder upload` reads
    assert copied.fingerprint == package.fingerprint and copied.sha256 != package.sha256
    step = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3,
                      expected_fingerprint=package.fingerprint)  # fmt: skip
    calls = count_calls(aws)

    with pytest.raises(MismatchedBuildError) as info:
        step.run(copied)

    assert str(info.value) == (
        f"{package.path_zip} is not the zip `layer-builder package` wrote (its sha256 is "
        f"{copied.sha256}, contents.json records {package.sha256}): run `layer-builder package` "
        f"again"
    )
    assert sum(calls.counts.values()) == 0


def test_a_zip_without_the_package_steps_record_is_refused(
    tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    record = tmp_path / "build" / "contents.json"
    record.unlink()
    step = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3)

    with pytest.raises(ProjectError) as info:
        step.run(package)
    assert str(info.value) == (
        f"{package.path_zip} has no record of `layer-builder package` beside it ({record} is "
        f"missing): run `layer-builder package` again"
    )

    record.write_text("{not json")
    with pytest.raises(ProjectError) as info:
        step.run(package)
    assert str(info.value).startswith(f"{record} is not a contents record of layer_builder (")
    assert str(info.value).endswith("): run `layer-builder package` again")
    assert object_keys(aws, bucket) == []


@pytest.mark.parametrize("checksum", ["CRC32", None], ids=["crc32", "default"])
def test_a_labelled_object_of_other_bytes_under_the_zips_key_is_replaced(
    tmp_path: Path, aws: AwsClients, bucket: str, checksum: str | None
) -> None:
    # The label names the zip and S3 keeps only a CRC (its default): the bytes are read.
    manifest = make_manifest(tmp_path / "project")
    package = make_package(tmp_path / "build", manifest)
    key = f"app/layer/zips/{package.sha256}.zip"
    extra = {"ChecksumAlgorithm": checksum} if checksum else {}
    aws.s3.put_object(Bucket=bucket, Key=key, Body=b"not the zip",
                      Metadata={"zip-sha256": package.sha256}, **extra)  # fmt: skip

    result = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3).run(package)

    assert result.uploaded
    assert aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == package.path_zip.read_bytes()


@pytest.mark.parametrize("checksum", ["SHA256", "CRC32"])
def test_a_staged_zip_replaced_on_s3_says_it_changed_after_upload(
    tmp_path: Path, aws: AwsClients, bucket: str, checksum: str
) -> None:
    manifest = make_manifest(tmp_path / "project")
    layout = LayerS3Layout(f"s3://{bucket}/app/")
    uploaded = UploadStep(layout, manifest, aws.s3).run(make_package(tmp_path / "a", manifest))
    aws.s3.put_object(Bucket=bucket, Key=uploaded.s3path.key, Body=b"PK other",
                      ChecksumAlgorithm=checksum,
                      Metadata={"zip-sha256": uploaded.zip_sha256})  # fmt: skip

    with pytest.raises(StaleUploadError) as info:
        staged_upload(aws.s3, layout)

    assert str(info.value) == (
        f"{uploaded.s3_uri}, the zip that s3://{bucket}/app/layer/layer.zip stages, changed "
        f"after it was uploaded (its bytes are no longer the zip of sha256 "
        f"{uploaded.zip_sha256}): run `layer-builder upload` again"
    )


def test_upload_aborts_what_killed_runs_left_and_spares_uploads_in_progress(
    tmp_path: Path, aws: AwsClients, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    # moto dates every multipart upload 2010-11-10 and each part when it lands: the first is
    # a killed run's (started long ago, no part since), the second another run's, still
    # sending parts; the third is not under the layer's zips.
    killed = aws.s3.create_multipart_upload(Bucket=bucket, Key=f"app/layer/zips/{'a' * 64}.zip")
    live_key = f"app/layer/zips/{'b' * 64}.zip"
    live = aws.s3.create_multipart_upload(Bucket=bucket, Key=live_key)
    aws.s3.upload_part(Bucket=bucket, Key=live_key, UploadId=live["UploadId"], PartNumber=1,
                       Body=b"part")  # fmt: skip
    aws.s3.create_multipart_upload(Bucket=bucket, Key="app/elsewhere/big.bin")
    manifest = make_manifest(tmp_path / "project")
    caplog.set_level("INFO", logger="layer_builder")

    UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3).run(
        make_package(tmp_path / "build", manifest)
    )

    uploads = aws.s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    left = {u["UploadId"]: u["Key"] for u in uploads}
    assert sorted(left.values()) == ["app/elsewhere/big.bin", live_key]
    assert live["UploadId"] in left
    assert killed["UploadId"] not in left
    assert (
        f"aborted the unfinished upload of s3://{bucket}/app/layer/zips/{'a' * 64}.zip, "
        "started 2010-11-10T20:48:33"
    ) in caplog.text


def test_upload_without_the_right_to_list_unfinished_uploads_still_uploads(
    tmp_path: Path, aws: AwsClients, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    def refused(**_: object) -> None:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListMultipartUploads"
        )

    manifest = make_manifest(tmp_path / "project")
    aws.s3.meta.events.register("before-call.s3.ListMultipartUploads", refused)
    try:
        result = UploadStep(LayerS3Layout(f"s3://{bucket}/app/"), manifest, aws.s3).run(
            make_package(tmp_path / "build", manifest)
        )
    finally:
        aws.s3.meta.events.unregister("before-call.s3.ListMultipartUploads", refused)

    assert result.uploaded
    assert (
        "not aborting unfinished uploads left by killed runs: listing the unfinished multipart "
        f"uploads under s3://{bucket}/app/layer/zips/ failed: AccessDenied Access Denied: grant "
        "the caller access, or use other credentials"
    ) in caplog.text
