"""Issue 19's reproductions through the CLI: what is published is checked on its bytes, not on
the labels (S3 metadata, the zip's comment) that travel with them."""

from __future__ import annotations

import base64
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from layer_builder import AwsClients
from tests.cli.test_cli import bucket_keys, sha256_of
from tests.conftest import MakeProject


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("checksum", ["default", "SHA256"])
def test_a_zip_replaced_on_s3_after_upload_is_not_published(
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    cli: Any,
    checksum: str,
) -> None:
    # Reproduction 1: the zip is replaced on S3 between `upload` and `publish`, its metadata
    # kept (with S3's default CRC checksum, or with a SHA-256 of the other bytes).
    project = make_project({"tinyutil": "1.0.0"})
    remote = ["--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    assert cli("build", "--project", project).code == 0
    assert cli("package", "--project", project).code == 0
    upload = cli("upload", *remote, "--json").json
    key = upload["s3_uri"][len(f"s3://{bucket}/") :]
    head = aws.s3.head_object(Bucket=bucket, Key=key)
    extra = {"ChecksumAlgorithm": checksum} if checksum != "default" else {}
    aws.s3.put_object(Bucket=bucket, Key=key, Body=b"PK other bytes",
                      Metadata=head["Metadata"], **extra)  # fmt: skip

    refused = cli("publish", *remote)

    assert refused.error == (
        f"{upload['s3_uri']}, the zip that s3://{bucket}/a/layer/layer.zip stages, changed "
        f"after it was uploaded (its bytes are no longer the zip of sha256 "
        f"{upload['zip_sha256']}): run `layer-builder upload` again"
    )
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []
    # Uploading again puts the zip's own bytes back; then it is published, and its version
    # holds them.
    assert cli("upload", *remote, "--json").json["uploaded"] is True
    published = cli("publish", *remote, "--json").json
    assert published["published"] is True
    version = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert base64.b64decode(version["Content"]["CodeSha256"]).hex() == upload["zip_sha256"]


@pytest.mark.usefixtures("aws_env")
def test_a_foreign_zip_carrying_this_builds_identity_is_not_uploaded(
    make_project: MakeProject,
    tmp_path: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    cli: Any,
) -> None:
    # Reproduction 2: another build's zip, given this build's identity comment, is copied
    # over layer.zip. The comment says it is this build; the package step's record says no.
    project = make_project({"tinyutil": "1.0.0"}, name="mine")
    other = make_project({"tinyutil": "1.1.0"}, name="other")
    for folder in (project, other):
        assert cli("build", "--project", folder).code == 0
        assert cli("package", "--project", folder).code == 0
    path_zip = project / "build" / "lambda" / "layer" / "layer.zip"
    recorded = sha256_of(path_zip)
    with zipfile.ZipFile(path_zip) as zf:
        comment = zf.comment
    foreign = tmp_path / "foreign.zip"
    shutil.copyfile(other / "build" / "lambda" / "layer" / "layer.zip", foreign)
    with zipfile.ZipFile(foreign, "a") as zf:
        zf.comment = comment
    shutil.copyfile(foreign, path_zip)

    refused = cli("upload", "--project", project, "--layer-name", layer_name, "--s3dir",
                  f"s3://{bucket}/a/")  # fmt: skip

    assert refused.error == (
        f"{path_zip} is not the zip `layer-builder package` wrote (its sha256 is "
        f"{sha256_of(foreign)}, contents.json records {recorded}): run `layer-builder package` "
        f"again"
    )
    assert bucket_keys(aws, bucket) == set()


@pytest.mark.usefixtures("aws_env")
def test_run_rebuild_builds_and_compares_the_bytes_with_the_newest_version(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    remote = ["--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    assert cli("run", *remote, "--json").json["published"] is True
    assert cli("run", *remote, "--json").json["skipped"] is True

    rebuilt = cli("run", *remote, "--rebuild", "--json").json

    # Built again (not the instant no-op), the same bytes: nothing to publish.
    assert rebuilt["skipped"] is False
    assert rebuilt["published"] is False
    assert rebuilt["reason"] == "requirements.txt and build options unchanged since version 1"
