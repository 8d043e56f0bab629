"""SSE-KMS and tags on every object the tool writes, added by one handler on the S3 client;
checked on the wire (botocore events) and in what the moto server stored."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from layer_builder import AwsClients, ConfigurationError, LayerS3Layout, LocalAwsEndpoint
from layer_builder.aws.settings import AwsSettings
from layer_builder.aws.write_options import S3WriteOptions, parse_tag
from layer_builder.cli import main
from layer_builder.cli.parser import build_parser
from layer_builder.cli.settings import make_workflow
from layer_builder.operations.regions import RegionTarget
from layer_builder.steps.upload import UploadStep
from tests.aws_helpers import HandmadeWorkflow, make_manifest, make_package, object_keys
from tests.conftest import MakeProject

KEY = "alias/layer-builder-test"
OPTIONS = S3WriteOptions(sse_kms_key_id=KEY, tags=[("team", "data"), ("cost center", "42/b")])
WRITES = {"PutObject", "CopyObject", "CreateMultipartUpload"}


class WireLog:
    """The headers of every S3 write the clients send (after every handler ran)."""

    def __init__(self, *clients: AwsClients):
        self.writes: list[tuple[str, dict[str, str]]] = []
        for aws in clients:
            aws.s3.meta.events.register("before-call.s3", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in WRITES:
            self.writes.append((model.name, dict(params["headers"])))


def _carries_the_options(headers: dict[str, str], operation: str) -> bool:
    expected = {
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": KEY,
        "x-amz-tagging": "team=data&cost%20center=42%2Fb",
    }
    if operation == "CopyObject":
        expected["x-amz-tagging-directive"] = "REPLACE"
    return all(headers.get(name) == value for name, value in expected.items())


def _stored(aws: AwsClients, bucket: str, key: str) -> tuple[Any, Any, list[dict[str, str]]]:
    head = aws.s3.head_object(Bucket=bucket, Key=key)
    tags = aws.s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"), tags


STORED_TAGS = [{"Key": "team", "Value": "data"}, {"Key": "cost center", "Value": "42/b"}]


def test_every_object_a_run_writes_carries_the_key_and_tags(
    moto_endpoint: LocalAwsEndpoint, aws: AwsClients, bucket: str, layer_name: str, tmp_path: Path
) -> None:
    eu_bucket = f"test-eu-{uuid.uuid4().hex[:8]}"
    moto_endpoint.ensure_bucket(eu_bucket, "eu-west-1")
    make_manifest(tmp_path / "project")
    workflow = HandmadeWorkflow(
        tmp_path / "project",
        layer_name,
        f"s3://{bucket}/app/",
        aws=aws,
        regions=[RegionTarget("eu-west-1", f"s3://{eu_bucket}/app/")],
        aws_settings=AwsSettings(s3_writes=OPTIONS),
    )
    eu = workflow.region_aws("eu-west-1")
    wire = WireLog(workflow.aws, eu)

    result = workflow.run()

    assert result.publish.published and result.regions[0].publish.published  # type: ignore[union-attr]
    operations = [name for name, _ in wire.writes]
    # At home the zip, the lock, three backups, the contents record and the SBOM (the staging
    # copy is a copy); in the region the same, but the zip is a copy of the home one.
    assert operations.count("CopyObject") == 2
    assert operations.count("PutObject") == 7 + 6
    assert [name for name, headers in wire.writes if not _carries_the_options(headers, name)] == []
    for clients, where in ((workflow.aws, bucket), (eu, eu_bucket)):
        keys = object_keys(clients, where)
        assert keys, "something was written"
        for key in keys:
            assert _stored(clients, where, key) == ("aws:kms", KEY, STORED_TAGS), key
    assert aws.s3.meta.events is not workflow.aws.s3.meta.events, "the given clients stay"


def test_a_multipart_upload_carries_them(aws: AwsClients, bucket: str, tmp_path: Path) -> None:
    clients = aws.with_write_options(OPTIONS)
    manifest = make_manifest(tmp_path / "project")
    # Random bytes do not compress: the zip is over moto's 5 MiB part minimum.
    package = make_package(tmp_path / "build", manifest, payload=os.urandom(5 * 1024 * 1024 + 9))
    part = 5 * 1024 * 1024
    config = TransferConfig(multipart_threshold=part, multipart_chunksize=part)
    wire = WireLog(clients)
    layout = LayerS3Layout(f"s3://{bucket}/app/")

    result = UploadStep(layout, manifest, clients.s3, transfer_config=config).run(package)

    # The parts, the copy onto itself for a SHA-256 of the whole zip, the staging copy.
    writes = [name for name, _ in wire.writes]
    assert writes == ["CreateMultipartUpload", "CopyObject", "CopyObject"]
    assert all(_carries_the_options(headers, name) for name, headers in wire.writes)
    for key in (result.s3path.key, layout.s3path_layer_zip.key):
        assert _stored(aws, bucket, key) == ("aws:kms", KEY, STORED_TAGS)


def test_a_call_that_sets_its_own_encryption_keeps_it(aws: AwsClients, bucket: str) -> None:
    clients = aws.with_write_options(OPTIONS)
    clients.s3.put_object(Bucket=bucket, Key="own", Body=b"x", ServerSideEncryption="AES256",
                          Tagging="mine=1")  # fmt: skip
    head = aws.s3.head_object(Bucket=bucket, Key="own")
    assert (head["ServerSideEncryption"], head.get("SSEKMSKeyId")) == ("AES256", None)
    tags = aws.s3.get_object_tagging(Bucket=bucket, Key="own")["TagSet"]
    assert tags == [{"Key": "mine", "Value": "1"}]


def test_without_options_nothing_is_added(aws: AwsClients, bucket: str) -> None:
    clients = aws.with_write_options(OPTIONS).with_write_options(S3WriteOptions())
    wire = WireLog(clients)
    clients.s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    [(_, headers)] = wire.writes
    assert "x-amz-tagging" not in headers
    assert "x-amz-server-side-encryption" not in headers


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: parse_tag("team"), "invalid S3 tag 'team': expected KEY=VALUE (e.g. --s3-tag "
         "team=data)"),
        (lambda: S3WriteOptions(tags=[("aws:owner", "me")]), "invalid S3 tag aws:owner=me: keys "
         "starting with 'aws:' are reserved by AWS: choose another key"),
        (lambda: S3WriteOptions(tags=[("team", "a&b")]), "invalid S3 tag team=a&b: S3 takes only "
         "letters, digits, spaces and + - = . _ : / @ in tags"),
        (lambda: S3WriteOptions(tags=[("k" * 129, "v")]), f"invalid S3 tag {'k' * 129}=v: S3 "
         "takes keys of 1 to 128 characters and values of at most 256"),
        (lambda: S3WriteOptions(tags=[("team", "a"), ("team", "b")]), "S3 tag 'team' is given "
         "twice: give each key once (--s3-tag KEY=VALUE)"),
        (lambda: S3WriteOptions(tags=[(f"k{i}", "v") for i in range(11)]), "11 S3 tags given, "
         "but S3 keeps at most 10 per object: drop some"),
        (lambda: S3WriteOptions(sse_kms_key_id="my key"), "invalid KMS key 'my key': give a key "
         "id, a key ARN, an alias (alias/my-key) or an alias ARN (--sse-kms-key-id)"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        make()
    assert str(info.value) == message


@pytest.mark.parametrize(
    "key",
    [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        "alias/my-key",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:123456789012:alias/my-key",
    ],
)
def test_every_form_of_kms_key_is_taken(key: str) -> None:
    assert S3WriteOptions(sse_kms_key_id=key).sse_kms_key_id == key


def test_a_key_arn_of_another_region_is_refused_before_any_work(
    moto_endpoint: LocalAwsEndpoint, aws: AwsClients, bucket: str, layer_name: str, tmp_path: Path
) -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    make_manifest(tmp_path / "project")
    workflow = HandmadeWorkflow(
        tmp_path / "project",
        layer_name,
        f"s3://{bucket}/app/",
        aws=aws,
        regions=[RegionTarget("eu-west-1", f"s3://{bucket}-eu/app/")],
        aws_settings=AwsSettings(s3_writes=S3WriteOptions(sse_kms_key_id=arn)),
    )
    with pytest.raises(ConfigurationError) as info:
        workflow.run()
    assert str(info.value) == (
        f"the KMS key {arn} is in us-east-1 and cannot encrypt objects in eu-west-1: give an "
        f"alias (alias/my-key) that exists in every region the layer goes to (--sse-kms-key-id)"
    )
    assert object_keys(aws, bucket) == []


def test_the_flags_and_the_config_keys_reach_the_workflow(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(
        {"tinyutil": "1.0.0"},
        pyproject_extra=(
            '\n[tool.layer_builder]\nsse_kms_key_id = "alias/from-config"\n'
            's3_tags = { team = "data", "cost center" = "42" }\n'
        ),
    )
    base = ["upload", "--project", str(project), "--s3dir", "s3://b-x/a/"]
    parse = build_parser().parse_args
    writes = make_workflow(parse(base), None).aws_settings.s3_writes
    assert writes == S3WriteOptions("alias/from-config", [("team", "data"), ("cost center", "42")])
    flags = [*base, "--sse-kms-key-id", KEY, "--s3-tag", "a=1", "--s3-tag", "b=x=y"]
    writes = make_workflow(parse(flags), None).aws_settings.s3_writes
    assert writes == S3WriteOptions(KEY, [("a", "1"), ("b", "x=y")])
    assert main([*base, "--s3-tag", "oops"]) == 1
    assert capsys.readouterr().err == (
        "layer-builder: error: invalid S3 tag 'oops': expected KEY=VALUE (e.g. --s3-tag "
        "team=data)\n"
    )
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"42"', "42"))
    assert main(base) == 1
    assert capsys.readouterr().err == (
        "layer-builder: error: [tool.layer_builder] s3_tags.cost center must be a string "
        '(e.g. s3_tags = { team = "data", cost-center = "42" })\n'
    )
