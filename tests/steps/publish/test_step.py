"""PublishStep against the moto server: publish only on change, backups, stale uploads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from layer_builder import (
    AwsClients,
    ConfigurationError,
    LayerS3Layout,
    LayerTarget,
    Manifest,
    PackageOptions,
    PublishOptions,
    PublishResult,
    PublishStep,
    StaleUploadError,
    UploadResult,
    UploadStep,
    VersionStamp,
)
from layer_builder.steps.publish.options import validate_layer_name
from layer_builder.steps.publish.step import layer_code_sha256
from tests.aws_helpers import count_calls, make_manifest, make_package, object_keys


class Publisher:
    """Upload then publish a hand-made package, as the workflow would."""

    def __init__(self, tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str):
        self.tmp_path = tmp_path
        self.aws = aws
        self.bucket = bucket
        self.layer_name = layer_name
        self.layout = LayerS3Layout(f"s3://{bucket}/app/lambda/")
        self.runs = 0

    def upload(
        self, content: bytes = b"tinyutil==1.0.0\n", target: LayerTarget | None = None
    ) -> tuple[Manifest, UploadResult]:
        self.runs += 1
        manifest = make_manifest(self.tmp_path / f"project{self.runs}", content)
        package = make_package(self.tmp_path / f"build{self.runs}", manifest, target)
        return manifest, UploadStep(self.layout, manifest, self.aws.s3).run(package)

    def step(
        self, manifest: Manifest, target: LayerTarget | None = None, **options: object
    ) -> PublishStep:
        return PublishStep(
            self.layer_name,
            target or LayerTarget(),
            manifest,
            self.layout,
            self.aws,
            PublishOptions(**options),  # type: ignore[arg-type]
        )

    def publish(
        self,
        content: bytes = b"tinyutil==1.0.0\n",
        target: LayerTarget | None = None,
        **options: object,
    ) -> PublishResult:
        manifest, upload = self.upload(content, target)
        return self.step(manifest, target, **options).run(upload)

    def read(self, key: str) -> bytes:
        body = self.aws.s3.get_object(Bucket=self.bucket, Key=f"app/lambda/layer/{key}")["Body"]
        return bytes(body.read())

    def versions(self) -> list[dict[str, object]]:
        response = self.aws.lambda_.list_layer_versions(LayerName=self.layer_name)
        return list(response["LayerVersions"])


@pytest.fixture
def publisher(tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str) -> Publisher:
    return Publisher(tmp_path, aws, bucket, layer_name)


def test_first_publish_makes_version_1_and_backs_up_the_manifest(
    publisher: Publisher, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    manifest, upload = publisher.upload(b"tinyutil==1.0.0\n", LayerTarget("3.12", "arm64"))
    result = publisher.step(manifest, LayerTarget("3.12", "arm64")).run(upload)

    assert result.published
    assert result.layer_version == 1
    assert result.layer_version_arn.endswith(f":layer:{layer_name}:1")
    assert result.reason == f"first version of layer {layer_name!r} for python3.12 arm64"
    assert result.s3path_manifest is not None
    assert result.s3path_manifest.uri == f"s3://{bucket}/app/lambda/layer/000001/requirements.txt"
    assert object_keys(aws, bucket) == [
        "app/lambda/layer/000001/requirements.txt",
        "app/lambda/layer/last-requirements.txt",
        "app/lambda/layer/layer.zip",
        "app/lambda/layer/targets/python3.12-arm64/last-requirements.txt",
        f"app/lambda/layer/zips/{upload.zip_sha256}.zip",
    ]
    assert publisher.read("000001/requirements.txt") == b"tinyutil==1.0.0\n"
    assert publisher.read("last-requirements.txt") == b"tinyutil==1.0.0\n"
    assert publisher.read("targets/python3.12-arm64/last-requirements.txt") == (
        b"tinyutil==1.0.0\n"
    )
    version = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert version["CompatibleRuntimes"] == ["python3.12"]
    assert version["CompatibleArchitectures"] == ["arm64"]
    assert VersionStamp.from_description(version["Description"]) == VersionStamp(
        upload.fingerprint, manifest.sha256
    )


def test_unchanged_rerun_publishes_nothing_and_names_the_version(
    publisher: Publisher, aws: AwsClients
) -> None:
    first = publisher.publish()
    calls = count_calls(aws)
    second = publisher.publish()

    assert not second.published
    assert second.reason == "requirements.txt and build options unchanged since version 1"
    assert second.layer_version == 1
    assert second.layer_version_arn == first.layer_version_arn
    assert calls["PublishLayerVersion"] == 0
    assert len(publisher.versions()) == 1


def test_changed_manifest_publishes_version_2(publisher: Publisher) -> None:
    publisher.publish(b"tinyutil==1.0.0\n")
    result = publisher.publish(b"tinyutil==1.1.0\n")

    assert result.published
    assert result.layer_version == 2
    assert result.reason == "requirements.txt changed since version 1"
    assert publisher.read("000002/requirements.txt") == b"tinyutil==1.1.0\n"
    assert publisher.read("000001/requirements.txt") == b"tinyutil==1.0.0\n"
    assert publisher.read("last-requirements.txt") == b"tinyutil==1.1.0\n"


def test_another_target_publishes_its_own_first_version(
    publisher: Publisher, layer_name: str
) -> None:
    publisher.publish(target=LayerTarget("3.12", "x86_64"))
    result = publisher.publish(target=LayerTarget("3.12", "arm64"))

    assert result.published
    assert result.layer_version == 2
    assert result.reason == f"first version of layer {layer_name!r} for python3.12 arm64"
    assert publisher.versions()[0]["CompatibleArchitectures"] == ["arm64"]


def test_changed_package_options_publish_a_new_version(publisher: Publisher) -> None:
    publisher.publish()
    manifest, upload = publisher.upload()
    slim = make_package(publisher.tmp_path / "slim", manifest, options=PackageOptions(slim=True))
    upload = UploadStep(publisher.layout, manifest, publisher.aws.s3).run(slim)
    result = publisher.step(manifest).run(upload)

    assert result.published
    assert result.layer_version == 2
    assert result.reason == "the build or package options changed since version 1"


def test_force_publishes_although_nothing_changed(publisher: Publisher) -> None:
    publisher.publish()
    result = publisher.publish(force=True)

    assert result.published
    assert result.layer_version == 2
    assert result.reason == "forced (--force) over version 1"
    assert publisher.read("000002/requirements.txt") == b"tinyutil==1.0.0\n"


def test_description_and_license_info_reach_the_version(
    publisher: Publisher, aws: AwsClients, layer_name: str
) -> None:
    manifest, upload = publisher.upload()
    publisher.step(manifest, description="deps of my app", license_info="MIT").run(upload)

    version = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert version["Description"] == (
        f"deps of my app [layer_builder fingerprint={upload.fingerprint} "
        f"manifest-sha256={manifest.sha256}]"
    )
    assert len(version["Description"]) <= 256
    assert version["LicenseInfo"] == "MIT"


def test_a_version_not_made_by_layer_builder_is_replaced(
    publisher: Publisher, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    aws.s3.put_object(Bucket=bucket, Key="other.zip", Body=b"PK")
    aws.lambda_.publish_layer_version(
        LayerName=layer_name, Content={"S3Bucket": bucket, "S3Key": "other.zip"},
        Description="made by hand", CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=["x86_64"],
    )  # fmt: skip
    result = publisher.publish()
    assert result.published
    assert result.layer_version == 2
    assert result.reason == "version 1 was not published by layer_builder"


def test_a_version_that_names_no_runtime_is_not_this_targets(
    publisher: Publisher, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    # Lambda lists it under no CompatibleRuntime filter: no target's build compares with it.
    aws.s3.put_object(Bucket=bucket, Key="other.zip", Body=b"PK")
    aws.lambda_.publish_layer_version(
        LayerName=layer_name, Content={"S3Bucket": bucket, "S3Key": "other.zip"},
        Description="made by hand",
    )  # fmt: skip
    result = publisher.publish()
    assert result.published
    assert result.layer_version == 2
    assert result.reason == f"first version of layer {layer_name!r} for python3.12 x86_64"


def test_missing_backups_are_written_on_an_unchanged_rerun(
    publisher: Publisher, aws: AwsClients, bucket: str
) -> None:
    publisher.publish()
    for key in ("000001/requirements.txt", "last-requirements.txt"):
        aws.s3.delete_object(Bucket=bucket, Key=f"app/lambda/layer/{key}")

    result = publisher.publish()

    assert not result.published
    assert publisher.read("000001/requirements.txt") == b"tinyutil==1.0.0\n"
    assert publisher.read("last-requirements.txt") == b"tinyutil==1.0.0\n"


def test_present_backups_are_not_rewritten_on_an_unchanged_rerun(
    publisher: Publisher, aws: AwsClients
) -> None:
    publisher.publish()
    manifest, upload = publisher.upload()
    calls = count_calls(aws)
    publisher.step(manifest).run(upload)
    assert [p["Key"] for p in calls.params["PutObject"]] == ["app/lambda/layer/.publish.lock"]


def test_vanished_object_is_a_stale_upload(
    publisher: Publisher, aws: AwsClients, bucket: str
) -> None:
    manifest, upload = publisher.upload()
    aws.s3.delete_object(Bucket=bucket, Key=upload.s3path.key)
    with pytest.raises(StaleUploadError) as info:
        publisher.step(manifest).run(upload)
    assert str(info.value) == (
        f"{upload.s3_uri} no longer exists: run the upload again before publishing"
    )
    assert publisher.versions() == []


def changed_after_upload(upload: UploadResult) -> str:
    return (
        f"{upload.s3_uri} changed after it was uploaded (its bytes are no longer the zip of "
        f"sha256 {upload.zip_sha256}): run `layer-builder upload` again (or `layer-builder "
        f"run`), then publish"
    )


def test_replaced_object_is_a_stale_upload(
    publisher: Publisher, aws: AwsClients, bucket: str
) -> None:
    manifest, stale = publisher.upload()
    # Someone writes other bytes under the zip's key before this run publishes.
    aws.s3.put_object(Bucket=bucket, Key=stale.s3path.key, Body=b"PK other",
                      Metadata={"zip-sha256": "0" * 64})  # fmt: skip

    with pytest.raises(StaleUploadError) as info:
        publisher.step(manifest).run(stale)
    assert str(info.value) == changed_after_upload(stale)
    assert publisher.versions() == []


@pytest.mark.parametrize(
    "checksum",
    [{"ChecksumAlgorithm": "SHA256"}, {"ChecksumAlgorithm": "CRC32"}, {}],
    ids=["sha256", "crc32", "default"],
)
def test_an_object_with_the_right_label_and_other_bytes_is_a_stale_upload(
    publisher: Publisher, aws: AwsClients, bucket: str, checksum: dict[str, str]
) -> None:
    # Reproduction 1 of issue 19: the zip replaced on S3 after upload, its metadata kept.
    # With a SHA-256 of the whole object S3 says the bytes differ; with a CRC (S3's
    # default) or none, the object is read and hashed.
    manifest, stale = publisher.upload()
    aws.s3.put_object(Bucket=bucket, Key=stale.s3path.key, Body=b"PK other",
                      Metadata={"zip-sha256": stale.zip_sha256}, **checksum)  # fmt: skip
    calls = count_calls(aws)

    with pytest.raises(StaleUploadError) as info:
        publisher.step(manifest).run(stale)
    assert str(info.value) == changed_after_upload(stale)
    assert publisher.versions() == []
    assert calls["GetObject"] == (0 if checksum.get("ChecksumAlgorithm") == "SHA256" else 1)


def test_an_untouched_object_is_judged_by_s3s_sha256_without_reading_it(
    publisher: Publisher, aws: AwsClients
) -> None:
    manifest, upload = publisher.upload()
    calls = count_calls(aws)
    assert publisher.step(manifest).run(upload).published
    assert calls["GetObject"] == 0  # the lock and the backups are written, nothing is read


def test_another_runs_upload_before_publishing_does_not_change_what_is_published(
    publisher: Publisher, aws: AwsClients, layer_name: str
) -> None:
    manifest, mine = publisher.upload()
    # Another run stages a different zip (layer.zip now holds it) before this one publishes.
    other_manifest = make_manifest(publisher.tmp_path / "other", b"tinyutil==1.1.0\n")
    replacement = make_package(publisher.tmp_path / "other-build", other_manifest, payload=b"X\n")
    UploadStep(publisher.layout, other_manifest, publisher.aws.s3).run(replacement)

    result = publisher.step(manifest).run(mine)

    assert result.published
    assert layer_code_sha256(aws.lambda_, layer_name, result.layer_version) == mine.zip_sha256
    assert mine.zip_sha256 != replacement.sha256


@pytest.mark.parametrize("name", ["bad name!", "", "x" * 141, "layer/1"])
def test_invalid_layer_name_is_refused_before_any_call(name: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        validate_layer_name(name)
    assert str(info.value) == (
        f"invalid layer name {name!r}: use 1 to 140 letters, digits, '-' or '_' "
        "(e.g. --layer-name my_app_deps)"
    )


def test_too_long_description_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        PublishOptions(description="d" * 83)
    assert str(info.value) == (
        "description is 83 characters, over the 82 that fit next to the version stamp in "
        "Lambda's 256: shorten --description"
    )
    assert PublishOptions(description="d" * 82).description == "d" * 82


def test_too_long_license_info_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        PublishOptions(license_info="l" * 513)
    assert str(info.value) == (
        "license info is 513 characters, over Lambda's 512: shorten --license-info "
        "(an SPDX identifier or a URL)"
    )


def _version_bucket(aws: AwsClients, bucket: str) -> None:
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def test_versioned_bucket_publishes_the_uploaded_object_version(
    publisher: Publisher, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    _version_bucket(aws, bucket)
    manifest, upload = publisher.upload(b"tinyutil==1.0.0\n")
    # A later upload (staged in layer.zip) must not change what this version is made from.
    later_manifest = make_manifest(publisher.tmp_path / "later")
    later = make_package(publisher.tmp_path / "later-build", later_manifest, payload=b"LATER\n")
    UploadStep(publisher.layout, later_manifest, aws.s3).run(later)
    calls = count_calls(aws)

    result = publisher.step(manifest).run(upload)

    assert result.published
    [params] = calls.params["PublishLayerVersion"]
    assert params["Content"] == {
        "S3Bucket": bucket,
        "S3Key": upload.s3path.key,
        "S3ObjectVersion": upload.version_id,
    }
    assert result.zip_sha256 == upload.zip_sha256


def test_reference_storage_mode_on_a_versioned_bucket(
    publisher: Publisher, aws: AwsClients, bucket: str
) -> None:
    _version_bucket(aws, bucket)
    manifest, upload = publisher.upload()
    calls = count_calls(aws)

    result = publisher.step(manifest, storage_mode="REFERENCE").run(upload)

    assert result.published
    [params] = calls.params["PublishLayerVersion"]
    assert params["Content"]["S3ObjectStorageMode"] == "REFERENCE"
    assert params["Content"]["S3ObjectVersion"] == upload.version_id


def test_reference_storage_mode_is_refused_on_an_unversioned_bucket(
    publisher: Publisher, bucket: str
) -> None:
    manifest, upload = publisher.upload()
    with pytest.raises(ConfigurationError) as info:
        publisher.step(manifest, storage_mode="REFERENCE").run(upload)
    assert str(info.value) == (
        f"storage mode REFERENCE needs a versioned bucket and s3://{bucket}/ is not "
        "versioned: enable versioning on it, or drop --storage-mode REFERENCE"
    )
    assert publisher.versions() == []


def test_unknown_storage_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        PublishOptions(storage_mode="LINK")
    assert (
        str(info.value) == "unknown storage mode 'LINK': choose COPY or REFERENCE (--storage-mode)"
    )


def test_storage_mode_needs_a_botocore_that_knows_it(publisher: Publisher, aws: AwsClients) -> None:
    # An older botocore's model: Content without S3ObjectStorageMode (this client's copy only).
    operation = aws.lambda_.meta.service_model.operation_model("PublishLayerVersion")
    del operation.input_shape.members["Content"].members["S3ObjectStorageMode"]
    manifest, upload = publisher.upload()

    with pytest.raises(ConfigurationError) as info:
        publisher.step(manifest, storage_mode="COPY").run(upload)

    assert str(info.value) == (
        "the installed boto3/botocore does not know Lambda's S3ObjectStorageMode: upgrade "
        "boto3, or drop --storage-mode"
    )
    assert publisher.versions() == []


def test_a_version_made_from_bytes_replaced_during_the_publish_is_deleted(
    publisher: Publisher, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    manifest, upload = publisher.upload()

    def replace_the_zip(**_: object) -> None:
        # After the check of the object's bytes, before Lambda reads it.
        aws.s3.put_object(Bucket=bucket, Key=upload.s3path.key, Body=b"PK other",
                          ChecksumAlgorithm="SHA256",
                          Metadata={"zip-sha256": upload.zip_sha256})  # fmt: skip

    event = "before-call.lambda.PublishLayerVersion"
    aws.lambda_.meta.events.register(event, replace_the_zip)
    try:
        with pytest.raises(StaleUploadError) as info:
            publisher.step(manifest).run(upload)
    finally:
        aws.lambda_.meta.events.unregister(event, replace_the_zip)

    other = hashlib.sha256(b"PK other").hexdigest()
    assert str(info.value) == (
        f"{upload.s3_uri} changed while version 1 of layer {layer_name!r} was published from "
        f"it (its CodeSha256 is the sha256 {other}, not the zip's {upload.zip_sha256}): "
        f"deleted version 1; run `layer-builder upload` again (or `layer-builder run`), then "
        f"publish"
    )
    assert publisher.versions() == []
    assert "app/lambda/layer/last-requirements.txt" not in object_keys(aws, bucket)


def test_a_build_of_the_same_label_and_other_bytes_is_published(
    publisher: Publisher, aws: AwsClients, layer_name: str
) -> None:
    # Reproduction 3 of issue 19 at the step: version 1 holds a zip made from an edited tree,
    # under the same fingerprint as the clean rebuild.
    manifest = make_manifest(publisher.tmp_path / "project")
    edited = make_package(publisher.tmp_path / "edited", manifest, payload=b"VALUE = 1\nX = 1\n")
    clean = make_package(publisher.tmp_path / "clean", manifest)
    assert edited.fingerprint == clean.fingerprint and edited.sha256 != clean.sha256
    step = publisher.step(manifest)
    step.run(UploadStep(publisher.layout, manifest, aws.s3).run(edited))

    rebuilt = step.run(UploadStep(publisher.layout, manifest, aws.s3).run(clean))

    assert rebuilt.published
    assert rebuilt.layer_version == 2
    assert rebuilt.reason == (
        f"the zip's bytes differ from version 1's (sha256 {clean.sha256[:12]} instead of "
        f"{edited.sha256[:12]}), requirements.txt and build options unchanged"
    )
    assert layer_code_sha256(aws.lambda_, layer_name, 2) == clean.sha256
    again = step.run(UploadStep(publisher.layout, manifest, aws.s3).run(clean))
    assert not again.published
    assert again.reason == "requirements.txt and build options unchanged since version 2"
