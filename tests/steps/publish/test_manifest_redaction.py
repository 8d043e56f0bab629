"""Credentials in a manifest's URLs (an index's user-info, a ``?token=``) reach no stored
copy of it, against the moto server and real installs from the local index; change
detection still tells the same manifest from another."""

from __future__ import annotations

import logging
import zipfile
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest

from layer_builder import AwsClients, LayerTarget, LayerWorkflow
from tests.conftest import WheelIndex

PASSWORD = "s3cr3t-pw"
TOKEN = "t0ken-value"
TARGET = LayerTarget("3.12", "x86_64")


def requirements(wheel_index: WheelIndex, tinyutil: str = "1.0.0") -> str:
    """Requirements naming the index with a password, and again with a token."""
    host = wheel_index.url.removeprefix("http://").removesuffix("/simple/")
    [hash_util] = wheel_index.hashes_of("tinyutil", tinyutil)
    return (
        f"--index-url http://builder:{PASSWORD}@{host}/simple/\n"
        f"--extra-index-url http://{host}/simple/?token={TOKEN}&v=1\n"
        f"tinyutil=={tinyutil} --hash=sha256:{hash_util}\n"
    )


def redacted(text: str) -> str:
    return text.replace(f"builder:{PASSWORD}@", "****@").replace(f"token={TOKEN}", "token=****")


def every_stored_byte(aws: AwsClients, bucket: str, layer_name: str) -> bytes:
    """Every object's body, metadata and (for a zip) members, and every version's
    Description: all that S3 and Lambda keep of the runs."""
    found = []
    for item in aws.s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        response = aws.s3.get_object(Bucket=bucket, Key=item["Key"])
        body = response["Body"].read()
        found += [item["Key"].encode(), body, repr(response["Metadata"]).encode()]
        if item["Key"].endswith(".zip"):
            with zipfile.ZipFile(BytesIO(body)) as zf:
                found += [zf.read(name) for name in zf.namelist()]
    listed = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    found += [v.get("Description", "").encode() for v in listed]
    return b"\n".join(found)


def backups(aws: AwsClients, bucket: str) -> dict[str, tuple[str, dict[str, str]]]:
    keys = ["app/layer/000001/requirements.txt", "app/layer/last-requirements.txt",
            "app/layer/targets/python3.12-x86_64/last-requirements.txt"]  # fmt: skip
    stored = {}
    for key in keys:
        response = aws.s3.get_object(Bucket=bucket, Key=key)
        stored[key] = (response["Body"].read().decode(), response["Metadata"])
    return stored


@pytest.fixture
def project(tmp_path: Path, wheel_index: WheelIndex) -> Path:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(requirements(wheel_index))
    return project


def test_no_stored_copy_holds_the_credentials(
    project: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    manifest = (project / "requirements.txt").read_text()

    result = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", TARGET, aws=aws).run()

    assert result.publish.published
    assert result.build is not None and [d.name for d in result.build.distributions] == ["tinyutil"]
    stored = every_stored_byte(aws, bucket, layer_name)
    assert PASSWORD.encode() not in stored and TOKEN.encode() not in stored
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text
    expected = (redacted(manifest), {"layer-version": "1", "redacted": "true"})
    assert list(backups(aws, bucket).values()) == [expected] * 3
    assert "http://****@127.0.0.1:" in expected[0] and "/simple/?token=****&v=1\n" in expected[0]


def test_change_detection_compares_the_redacted_copies(
    project: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    wheel_index: WheelIndex,
    aws_operations: Counter[str],
) -> None:
    workflow = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", TARGET, aws=aws)
    assert workflow.run().publish.layer_version == 1
    before = backups(aws, bucket)

    aws_operations.clear()
    again = workflow.run()
    assert again.skipped and again.publish.reason == (
        "requirements.txt and build options unchanged since version 1"
    )
    assert aws_operations["PutObject"] == 0  # every redacted copy is found up to date
    assert backups(aws, bucket) == before

    # A copy written before redaction (with the credentials) is written again, redacted.
    raw = (project / "requirements.txt").read_bytes()
    aws.s3.put_object(Bucket=bucket, Key="app/layer/last-requirements.txt", Body=raw,
                      Metadata={"layer-version": "1"})  # fmt: skip
    assert workflow.run().skipped
    assert backups(aws, bucket) == before

    (project / "requirements.txt").write_text(requirements(wheel_index, "1.1.0"))
    changed = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", TARGET, aws=aws).run()
    assert changed.publish.published and changed.publish.layer_version == 2
    assert "requirements.txt changed" in changed.publish.reason
    last = aws.s3.get_object(Bucket=bucket, Key="app/layer/last-requirements.txt")
    assert last["Metadata"] == {"layer-version": "2", "redacted": "true"}
    assert last["Body"].read().decode() == redacted(requirements(wheel_index, "1.1.0"))


def test_a_manifest_without_credentials_is_stored_as_it_is(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str, wheel_index: WheelIndex
) -> None:
    project = tmp_path / "plain"
    project.mkdir()
    [hash_util] = wheel_index.hashes_of("tinyutil", "1.0.0")
    text = f"--index-url {wheel_index.url}\ntinyutil==1.0.0 --hash=sha256:{hash_util}\n"
    (project / "requirements.txt").write_text(text)

    LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", TARGET, aws=aws).run()

    assert list(backups(aws, bucket).values()) == [(text, {"layer-version": "1"})] * 3
