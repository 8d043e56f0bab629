"""--profile and --region as the AWS CLI takes them: a real AWS config file, the moto server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from layer_builder import LayerWorkflow, LocalAwsEndpoint
from layer_builder.aws.settings import AwsSettings
from layer_builder.cli import main
from layer_builder.errors import ConfigurationError
from tests.aws_helpers import HandmadeWorkflow, make_manifest


@pytest.fixture
def profiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_endpoint: LocalAwsEndpoint
) -> None:
    """A ``deploy`` profile in eu-west-1 with its own keys; no region in the environment."""
    config = tmp_path / "aws-config"
    config.write_text("[profile deploy]\nregion = eu-west-1\n")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        "[deploy]\naws_access_key_id = deploykey\naws_secret_access_key = deploysecret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint.endpoint_url)


def _bucket(moto_endpoint: LocalAwsEndpoint, region: str) -> str:
    name = f"test-{region}-{uuid.uuid4().hex[:8]}"
    moto_endpoint.ensure_bucket(name, region)
    return name


@pytest.mark.usefixtures("profiles")
def test_a_profile_gives_the_credentials_and_the_home_region(
    moto_endpoint: LocalAwsEndpoint,
    tmp_path: Path,
    layer_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = _bucket(moto_endpoint, "eu-west-1")
    make_manifest(tmp_path / "project")
    settings = AwsSettings(profile="deploy")
    workflow = HandmadeWorkflow(tmp_path / "project", layer_name, f"s3://{bucket}/a/",
                                aws_settings=settings)  # fmt: skip
    assert workflow.aws.s3._request_signer._credentials.access_key == "deploykey"
    published = workflow.run().publish
    assert published.layer_version_arn.startswith("arn:aws:lambda:eu-west-1:")

    # AWS_PROFILE, as boto3 reads it, is the same profile.
    monkeypatch.setenv("AWS_PROFILE", "deploy")
    workflow = LayerWorkflow(tmp_path / "project", layer_name, f"s3://{bucket}/a/")
    assert workflow.aws.region == "eu-west-1"


@pytest.mark.usefixtures("profiles")
def test_region_wins_over_the_profiles(
    moto_endpoint: LocalAwsEndpoint, tmp_path: Path, layer_name: str
) -> None:
    bucket = _bucket(moto_endpoint, "us-west-2")
    make_manifest(tmp_path / "project")
    settings = AwsSettings(profile="deploy", region="us-west-2")
    workflow = HandmadeWorkflow(tmp_path / "project", layer_name, f"s3://{bucket}/a/",
                                aws_settings=settings)  # fmt: skip
    assert workflow.run().publish.layer_version_arn.startswith("arn:aws:lambda:us-west-2:")


@pytest.mark.usefixtures("profiles")
def test_the_cli_takes_profile_and_region(
    moto_endpoint: LocalAwsEndpoint,
    tmp_path: Path,
    layer_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    eu, west = _bucket(moto_endpoint, "eu-west-1"), _bucket(moto_endpoint, "us-west-2")
    make_manifest(tmp_path / "project")
    base = ["plan", "--project", str(tmp_path / "project"), "--layer-name", layer_name, "--json"]
    assert main([*base, "--profile", "deploy", "--s3dir", f"s3://{eu}/a/"]) == 0
    assert json.loads(capsys.readouterr().out)["region"] == "eu-west-1"
    flags = ["--profile", "deploy", "--region", "us-west-2", "--s3dir", f"s3://{west}/a/"]
    assert main([*base, *flags]) == 0
    assert json.loads(capsys.readouterr().out)["region"] == "us-west-2"
    # The bucket is checked against the home region, as before.
    assert main([*base, "--profile", "deploy", "--s3dir", f"s3://{west}/a/"]) == 1
    assert capsys.readouterr().err.startswith(
        f"layer-builder: error: S3 bucket '{west}' is in us-west-2, but the layer is published "
        f"in eu-west-1"
    )


def test_local_takes_the_home_region(
    tmp_path: Path, layer_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_manifest(tmp_path / "project")
    code = main(["plan", "--local", "--project", str(tmp_path / "project"), "--layer-name",
                 layer_name, "--s3dir", "s3://local-eu/a/", "--region", "eu-central-1",
                 "--json"])  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out)["region"] == "eu-central-1"


def test_a_bad_region_is_one_line() -> None:
    with pytest.raises(ConfigurationError) as info:
        AwsSettings(region="eu west 1")
    assert str(info.value) == (
        "invalid AWS region 'eu west 1': expected a region name such as us-east-1 or eu-west-1 "
        "(--region)"
    )
