"""How the clients are made: bounded timeouts against a real frozen endpoint, endpoint URLs
checked before any call, ``ExpectedBucketOwner`` on every S3 call, one region."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from layer_builder import AwsClients, AwsError, LayerWorkflow, LocalAwsEndpoint
from layer_builder.aws.client_config import ClientTimeouts
from layer_builder.aws.clients import check_bucket
from layer_builder.cli import main
from layer_builder.errors import ConfigurationError
from layer_builder.operations.regions import RegionTarget
from tests.conftest import MakeProject

SESSION = {"aws_access_key_id": "t", "aws_secret_access_key": "t", "region_name": "us-east-1"}


# -- a frozen endpoint fails fast ------------------------------------------------------------


def test_default_timeouts_fail_within_a_minute() -> None:
    timeouts = ClientTimeouts()
    # 3 attempts x (4 s connect + 14 s read) + at most 1 s + 2 s of backoff.
    assert timeouts.worst_case_seconds == 3 * (4 + 14) + 1 + 2 == 57
    aws = AwsClients.from_session(boto3.session.Session(**SESSION))
    for client in (aws.s3, aws.lambda_):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (4, 14)
        assert config.retries == {"mode": "standard", "total_max_attempts": 3}


class FrozenEndpoint:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self._server.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def frozen() -> Iterator[FrozenEndpoint]:
    endpoint = FrozenEndpoint()
    yield endpoint
    endpoint.close()


def test_a_frozen_endpoint_fails_with_a_message_after_the_set_attempts(
    frozen: FrozenEndpoint,
) -> None:
    timeouts = ClientTimeouts(connect_timeout=0.5, read_timeout=0.5, max_attempts=2)
    session = boto3.session.Session(**SESSION)
    aws = AwsClients.from_session(session, endpoint_url=frozen.url, timeouts=timeouts)
    with pytest.raises(AwsError) as info:
        check_bucket(aws.s3, "my-bucket")
    assert str(info.value) == (
        f"checking S3 bucket 'my-bucket' failed: {frozen.url}/my-bucket did not answer in "
        f"time (read timeout, on every attempt): check AWS_ENDPOINT_URL, your network and "
        f"proxy, then run again"
    )
    assert len(frozen.connections) == 2, "one connection per attempt, and no more attempts"
    # Clients for another region keep the same bounds.
    assert aws.for_region("eu-west-1").s3.meta.config.read_timeout == 0.5


# -- endpoint URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["not-a-url", "ftp://s3.example.com", "http://", "https:// x", "http://[::1", "http://h:99999"],
)
def test_a_bad_endpoint_is_one_line_before_any_work(
    value: str,
    make_project: MakeProject,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    monkeypatch.setenv("AWS_ENDPOINT_URL", value)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    code = main(["run", "--project", str(project), "--layer-name", "x", "--s3dir", "s3://b-x/a/"])
    assert code == 1
    assert capsys.readouterr().err == (
        f"layer-builder: error: the AWS endpoint {value!r} (from AWS_ENDPOINT_URL) is not an "
        f"http:// or https:// URL with a host: set it to the endpoint's address (e.g. "
        f"http://127.0.0.1:5000), or unset it to use AWS\n"
    )
    assert not (project / "build").exists(), "nothing was built"


def test_the_message_names_where_the_endpoint_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    session = boto3.session.Session(**SESSION)
    with pytest.raises(AwsError, match=r"^the AWS endpoint 'nope' \(from the endpoint_url given"):
        AwsClients.from_session(session, endpoint_url="nope")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "s3-here")
    with pytest.raises(AwsError, match=r"^the AWS endpoint 's3-here' \(from AWS_ENDPOINT_URL_S3\)"):
        AwsClients.from_session(session)


def test_a_profile_endpoint_botocore_cannot_parse_is_named_with_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nendpoint_url = http://[::1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with pytest.raises(AwsError) as info:
        AwsClients.from_session(boto3.session.Session(**SESSION))
    assert str(info.value) == (
        "the AWS endpoint 'http://[::1' (from the AWS profile's endpoint_url) is not an http:// "
        "or https:// URL with a host: set it to the endpoint's address (e.g. "
        "http://127.0.0.1:5000), or unset it to use AWS"
    )


def test_codeartifact_without_a_region_is_one_line(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    assert main(["build", "--project", str(project), "--codeartifact", "dom/repo"]) == 1
    assert capsys.readouterr().err == (
        "layer-builder: error: --codeartifact (CodeArtifact is regional) needs an AWS region, "
        "and no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), or a region "
        "in your AWS profile\n"
    )


# -- the bucket's region ---------------------------------------------------------------------


def _bucket_in(moto_endpoint: LocalAwsEndpoint, name: str, region: str) -> str:
    moto_endpoint.ensure_bucket(name, region)
    return name


def test_a_bucket_in_another_region_is_refused_before_the_build(
    moto_endpoint: LocalAwsEndpoint, aws: AwsClients, make_project: MakeProject, layer_name: str
) -> None:
    bucket = _bucket_in(moto_endpoint, f"eu-{layer_name.replace('_', '-')}", "eu-west-1")
    project = make_project({"tinyutil": "1.0.0"})
    workflow = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/lambda/", aws=aws)
    with pytest.raises(AwsError) as info:
        workflow.run()
    assert str(info.value) == (
        f"S3 bucket {bucket!r} is in eu-west-1, but the layer is published in us-east-1, and "
        f"Lambda reads a layer's zip only from a bucket in its own region: use a bucket in "
        f"us-east-1 (--s3dir), or publish in eu-west-1 (--region eu-west-1)"
    )
    assert not (project / "build").exists(), "nothing was built"


def test_an_extra_regions_bucket_must_be_in_that_region(
    moto_endpoint: LocalAwsEndpoint, aws: AwsClients, bucket: str, layer_name: str, tmp_path: Path
) -> None:
    home_region_bucket = bucket  # us-east-1, named as the eu-west-1 bucket by mistake
    workflow = LayerWorkflow(
        tmp_path,
        layer_name,
        f"s3://{bucket}/app/lambda/",
        aws=aws,
        regions=[RegionTarget("eu-west-1", f"s3://{home_region_bucket}/app/lambda/")],
    )
    (tmp_path / "requirements.txt").write_text("tinyutil==1.0.0\n")
    with pytest.raises(AwsError) as info:
        workflow.check()
    assert str(info.value) == (
        f"S3 bucket {bucket!r} is in us-east-1, but the layer is published in eu-west-1, and "
        f"Lambda reads a layer's zip only from a bucket in its own region: use a bucket in "
        f"eu-west-1 (--replicate-to eu-west-1=s3://BUCKET/PREFIX/)"
    )


# -- ExpectedBucketOwner ---------------------------------------------------------------------


MOTO_ACCOUNT = "123456789012"


def test_every_s3_call_of_a_run_carries_the_expected_owner(
    aws: AwsClients, bucket: str, make_project: MakeProject, layer_name: str
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    workflow = LayerWorkflow(
        project,
        layer_name,
        f"s3://{bucket}/app/lambda/",
        aws=aws,
        expected_bucket_owner=MOTO_ACCOUNT,
    )
    calls: list[tuple[str, str | None, bool]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        members = model.input_shape.members if model.input_shape is not None else {}
        owner = params["headers"].get("x-amz-expected-bucket-owner")
        calls.append((model.name, owner, "ExpectedBucketOwner" in members))

    workflow.aws.s3.meta.events.register("before-call.s3", record)
    assert workflow.run().publish.published
    operations = {name for name, _, _ in calls}
    assert {"HeadBucket", "HeadObject", "PutObject", "DeleteObject"} <= operations
    assert all(has_member for _, _, has_member in calls), "every S3 call the run makes has it"
    assert [(name, owner) for name, owner, _ in calls if owner != MOTO_ACCOUNT] == []
    assert aws.s3.meta.events is not workflow.aws.s3.meta.events, "the given clients stay"


def test_multipart_uploads_carry_it_too(aws: AwsClients, bucket: str, tmp_path: Path) -> None:
    clients = aws.with_expected_bucket_owner(MOTO_ACCOUNT)
    seen: list[tuple[str, str | None]] = []
    clients.s3.meta.events.register(
        "before-call.s3",
        lambda model, params, **_: seen.append(
            (model.name, params["headers"].get("x-amz-expected-bucket-owner"))
        ),
    )
    path = tmp_path / "big.zip"
    path.write_bytes(b"x" * (5 * 1024 * 1024 + 1))  # over the part size: two parts
    part = 5 * 1024 * 1024
    config = TransferConfig(multipart_threshold=part, multipart_chunksize=part)
    clients.s3.upload_file(str(path), bucket, "big.zip", Config=config)
    assert [name for name, _ in seen] == [
        "CreateMultipartUpload", "UploadPart", "UploadPart", "CompleteMultipartUpload"
    ]  # fmt: skip
    assert {owner for _, owner in seen} == {MOTO_ACCOUNT}


def test_a_wrong_expected_owner_is_sent_as_given(aws: AwsClients, bucket: str) -> None:
    # moto 5.2 does not enforce ExpectedBucketOwner (AWS answers 403 AccessDenied, which
    # check_bucket turns into "no access to S3 bucket ..."): what is checked here is that
    # the owner given is the one sent, on calls made with clients built by hand too.
    by_hand = AwsClients(s3=aws.s3, lambda_=aws.lambda_, expected_bucket_owner="111111111111")
    sent: list[str] = []
    by_hand.s3.meta.events.register(
        "before-call.s3.HeadBucket",
        lambda params, **_: sent.append(params["headers"]["x-amz-expected-bucket-owner"]),
    )
    check_bucket(by_hand.s3, bucket)
    assert sent == ["111111111111"]


def test_an_owner_that_is_no_account_id_is_refused(tmp_path: Path, bucket: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LayerWorkflow(tmp_path, "x", f"s3://{bucket}/a/", expected_bucket_owner="my-team")
    assert str(info.value) == (
        "expected bucket owner 'my-team' is not an AWS account id: give the 12 digits of the "
        "account that owns the bucket (e.g. --expected-bucket-owner 123456789012)"
    )


def test_the_flag_and_the_config_key_reach_the_workflow(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    from layer_builder.cli.parser import build_parser
    from layer_builder.cli.settings import make_workflow

    project = make_project(
        {"tinyutil": "1.0.0"},
        pyproject_extra='\n[tool.layer_builder]\nexpected_bucket_owner = "210987654321"\n',
    )
    base = ["plan", "--project", str(project), "--layer-name", "x", "--s3dir", "s3://b-x/a/"]
    parse = build_parser().parse_args
    assert make_workflow(parse(base), None).expected_bucket_owner == "210987654321"
    flag = [*base, "--expected-bucket-owner", MOTO_ACCOUNT]
    assert make_workflow(parse(flag), None).expected_bucket_owner == MOTO_ACCOUNT
    assert main([*base, "--expected-bucket-owner", "nope"]) == 1
    assert "is not an AWS account id" in capsys.readouterr().err
