"""Console links: regional, in the partition's own console domain."""

from __future__ import annotations

import pytest

from layer_builder.aws.console import layer_version_console_url, s3_console_url
from layer_builder.model.s3path import S3Path


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-west-1", "eu-west-1.console.aws.amazon.com"),
        ("cn-north-1", "cn-north-1.console.amazonaws.cn"),
        ("us-gov-west-1", "us-gov-west-1.console.amazonaws-us-gov.com"),
    ],
)
def test_the_s3_link_names_the_region(region: str, host: str) -> None:
    s3path = S3Path.from_s3_uri("s3://my-bucket/app/layer/zips/a b.zip")
    assert s3_console_url(s3path, region) == (
        f"https://{host}/s3/object/my-bucket?region={region}&prefix=app/layer/zips/a%20b.zip"
    )


def test_without_a_region_the_global_console() -> None:
    s3path = S3Path.from_s3_uri("s3://my-bucket/k.zip")
    assert (
        s3_console_url(s3path, None)
        == "https://console.aws.amazon.com/s3/object/my-bucket?prefix=k.zip"
    )


def test_the_layer_version_link_comes_from_its_arn() -> None:
    arn = "arn:aws:lambda:ap-southeast-2:123456789012:layer:my_app-deps:12"
    assert layer_version_console_url(arn) == (
        "https://ap-southeast-2.console.aws.amazon.com/lambda/home?region=ap-southeast-2"
        "#/layers/my_app-deps/versions/12"
    )
    gov = "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:x:1"
    assert layer_version_console_url(gov) == (
        "https://us-gov-west-1.console.amazonaws-us-gov.com/lambda/home?region=us-gov-west-1"
        "#/layers/x/versions/1"
    )
    assert layer_version_console_url("not an arn") is None
