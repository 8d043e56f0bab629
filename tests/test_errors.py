"""The errors a user can hit: one line each, saying what was wrong and what to do."""

from __future__ import annotations

import socket

import boto3
import botocore.config
import pytest

from layer_builder import (
    AwsClients,
    AwsError,
    BuildError,
    ConfigurationError,
    InstallerFailedError,
    LayerBuilderError,
    LocalAwsEndpoint,
    NoCompatibleWheelError,
    ProjectError,
    StaleUploadError,
)
from layer_builder.aws.clients import aws_errors, check_bucket


def test_every_error_is_a_layer_builder_error() -> None:
    for error in (ConfigurationError, ProjectError, BuildError, AwsError, StaleUploadError):
        assert issubclass(error, LayerBuilderError)
    assert issubclass(InstallerFailedError, BuildError)
    assert issubclass(NoCompatibleWheelError, BuildError)
    assert issubclass(StaleUploadError, AwsError)


def test_installer_failure_carries_the_command_and_the_last_output_lines() -> None:
    output = "".join(f"line {i}\n" for i in range(100))
    error = InstallerFailedError("pip install failed", ["python", "-m", "pip"], output, 2)
    text = str(error)
    assert text.splitlines()[0] == "pip install failed"
    assert "command (exit code 2): python -m pip" in text
    assert "line 99" in text
    assert "line 70" in text
    assert "line 69" not in text
    assert error.command == ("python", "-m", "pip")
    assert error.returncode == 2


def test_no_compatible_wheel_names_the_package_and_the_target() -> None:
    error = NoCompatibleWheelError("fastcalc==9", "python3.12 arm64", detail="pip: nothing")
    assert str(error).startswith(
        "no wheel of 'fastcalc==9' matches the layer target python3.12 arm64: "
    )
    assert str(error).endswith("(pip: nothing)")
    assert error.package == "fastcalc==9"


def test_missing_region_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AwsError) as info:
        AwsClients.from_session()
    assert str(info.value) == (
        "no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), "
        "or a region in your AWS profile"
    )


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_either_region_variable_is_enough(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "eu-west-3")
    clients = AwsClients.from_session()
    assert clients.region == "eu-west-3"
    assert clients.s3.meta.region_name == "eu-west-3"


def test_aws_default_region_and_profile_win_over_aws_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert AwsClients.from_session().region == "ap-south-1"
    session = boto3.session.Session(region_name="us-west-2")
    assert AwsClients.from_session(session).region == "us-west-2"


def test_no_credentials(moto_endpoint: LocalAwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint.endpoint_url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    aws = AwsClients.from_session()
    with pytest.raises(AwsError) as info, aws_errors("checking S3 bucket 'b'"):
        check_bucket(aws.s3, "b")
    assert str(info.value) == (
        "checking S3 bucket 'b' failed: no AWS credentials found: configure a profile or the "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables, or try --local"
    )


def test_missing_bucket(aws: AwsClients) -> None:
    with pytest.raises(AwsError) as info:
        check_bucket(aws.s3, "no-such-bucket-here")
    assert str(info.value) == (
        "S3 bucket 'no-such-bucket-here' does not exist: create it or pass another --s3dir"
    )


def test_existing_bucket_passes(aws: AwsClients, bucket: str) -> None:
    check_bucket(aws.s3, bucket)


def test_client_error_names_the_action_the_code_and_a_hint(aws: AwsClients, bucket: str) -> None:
    with pytest.raises(AwsError) as info, aws_errors("reading s3://x/layer.zip"):
        aws.s3.get_object(Bucket=bucket, Key="missing")
    assert str(info.value) == (
        "reading s3://x/layer.zip failed: NoSuchKey The specified key does not exist.: "
        "check the S3 folder (--s3dir), or upload the object first"
    )
    with pytest.raises(AwsError) as info, aws_errors("listing versions of layer 'x'"):
        aws.lambda_.get_layer_version(LayerName="nope", VersionNumber=1)
    assert str(info.value).startswith("listing versions of layer 'x' failed: ")
    assert str(info.value).endswith("check the name and the region")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    session = boto3.session.Session(
        aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )
    no_retries = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
    s3 = session.client("s3", endpoint_url=url, config=no_retries)
    with pytest.raises(AwsError) as info:
        check_bucket(s3, "b")
    assert str(info.value) == (
        f"checking S3 bucket 'b' failed: cannot reach {url}/b: check AWS_ENDPOINT_URL and "
        f"your network"
    )


def test_parameter_validation_is_one_line(aws: AwsClients) -> None:
    with pytest.raises(AwsError) as info:
        check_bucket(aws.s3, "bad bucket")
    message = str(info.value)
    assert message.startswith(
        "checking S3 bucket 'bad bucket' failed: Parameter validation failed:"
    )
    assert message.endswith(": check the arguments and your AWS configuration")
    assert "\n" not in message
