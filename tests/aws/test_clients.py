"""AWS clients, regions, and the one-line messages AWS failures become."""

from __future__ import annotations

import boto3
import botocore.config
import botocore.exceptions
import pytest

from layer_builder import AwsClients, AwsError, LocalAwsEndpoint
from layer_builder.aws.clients import aws_errors, check_bucket


def test_no_region_is_a_clear_error() -> None:
    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t")
    with pytest.raises(AwsError) as info:
        AwsClients.from_session(session)
    assert str(info.value) == (
        "no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), or a region in "
        "your AWS profile"
    )


def test_aws_region_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t")
    assert AwsClients.from_session(session).region == "eu-central-1"


def test_for_region_keeps_credentials_and_endpoint(
    moto_endpoint: LocalAwsEndpoint, aws: AwsClients, bucket: str
) -> None:
    assert aws.for_region(aws.region) is aws
    eu = aws.for_region("eu-west-1")
    assert eu.region == "eu-west-1"
    assert eu.s3.meta.region_name == "eu-west-1"
    assert eu.endpoint_url == moto_endpoint.endpoint_url
    # Same account on the same endpoint: the home bucket is visible from there.
    assert bucket in {b["Name"] for b in eu.s3.list_buckets()["Buckets"]}


def test_for_region_of_clients_built_by_hand_says_how(aws: AwsClients) -> None:
    by_hand = AwsClients(s3=aws.s3, lambda_=aws.lambda_)
    with pytest.raises(AwsError) as info:
        by_hand.for_region("eu-west-1")
    assert str(info.value) == (
        "cannot make AWS clients for region 'eu-west-1' from clients built by hand: build them "
        "with AwsClients.from_session()"
    )


def test_client_error_names_the_action_the_code_and_the_fix(aws: AwsClients) -> None:
    with pytest.raises(AwsError) as info, aws_errors("reading s3://no-such-bucket-here/x"):
        aws.s3.get_object(Bucket="no-such-bucket-here", Key="x")
    assert str(info.value) == (
        "reading s3://no-such-bucket-here/x failed: NoSuchBucket The specified bucket does not "
        "exist: create the bucket or pass another --s3dir"
    )


def test_unreachable_endpoint_says_what_to_check() -> None:
    session = boto3.session.Session(
        aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
    )
    config = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2)
    s3 = session.client("s3", endpoint_url="http://127.0.0.1:9", config=config)
    with pytest.raises(AwsError) as info, aws_errors("checking S3 bucket 'b'"):
        s3.head_bucket(Bucket="some-bucket")
    assert str(info.value) == (
        "checking S3 bucket 'b' failed: cannot reach http://127.0.0.1:9/some-bucket: check "
        "AWS_ENDPOINT_URL and your network"
    )


def test_missing_credentials_suggest_local() -> None:
    with pytest.raises(AwsError) as info, aws_errors("listing versions of layer 'x'"):
        raise botocore.exceptions.NoCredentialsError()
    assert str(info.value) == (
        "listing versions of layer 'x' failed: no AWS credentials found: configure a profile or "
        "the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables, or try --local"
    )


def test_check_bucket_passes_an_existing_bucket_and_names_a_missing_one(
    aws: AwsClients, bucket: str
) -> None:
    check_bucket(aws.s3, bucket)
    with pytest.raises(AwsError) as info:
        check_bucket(aws.s3, "no-such-bucket-here")
    assert str(info.value) == (
        "S3 bucket 'no-such-bucket-here' does not exist: create it or pass another --s3dir"
    )
