"""The AWS flags of ``layer-builder``, with the AWS CLI's habits: ``--profile``, ``--region``
(the home region), and the encryption and tags of every object written to S3."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from layer_builder.cli.config import setting
from layer_builder.errors import ConfigurationError

# Imported where the settings are made, not by the parser that adds these flags.
if TYPE_CHECKING:
    from layer_builder.aws.settings import AwsSettings
    from layer_builder.aws.write_options import S3WriteOptions


def add_access_arguments(parser: argparse.ArgumentParser) -> None:
    """How to reach AWS: what the AWS CLI calls ``--profile`` and ``--region``."""
    parser.add_argument("--profile", metavar="NAME",
                        help="use this AWS profile (default: AWS_PROFILE, else the default "
                             "profile)")  # fmt: skip
    parser.add_argument("--region", metavar="REGION",
                        help="the home region: where the layer is published and its S3 "
                             "folder lives (default: AWS_REGION, else the profile's); extra "
                             "regions: --replicate-to")  # fmt: skip


def add_s3_write_arguments(parser: argparse.ArgumentParser) -> None:
    """What every object written to S3 carries."""
    parser.add_argument("--sse-kms-key-id", metavar="KEY",
                        help="encrypt every object written to S3 with this KMS key (SSE-KMS): "
                             "a key id, key ARN or alias/NAME")  # fmt: skip
    parser.add_argument("--s3-tag", action="append", dest="s3_tags", metavar="KEY=VALUE",
                        help="tag every object written to S3 (repeatable)")  # fmt: skip


def home_region(args: argparse.Namespace) -> str | None:
    """``--region``, refusing the old form that named an extra region."""
    region: str | None = getattr(args, "region", None)
    if region is not None and "=" in region:
        raise ConfigurationError(
            f"--region {region} names an extra region, but --region is now the home region "
            f"(the Lambda and S3 region of the run, as in the AWS CLI): use --replicate-to "
            f"{region}"
        )
    return region


def s3_write_options(args: argparse.Namespace, config: dict[str, Any]) -> S3WriteOptions:
    """``--sse-kms-key-id`` and ``--s3-tag``, else ``sse_kms_key_id`` and ``s3_tags``."""
    from layer_builder.aws.write_options import S3WriteOptions, parse_tag

    flags = getattr(args, "s3_tags", None)
    if flags:
        tags = [parse_tag(text) for text in flags]
    else:
        table = config.get("s3_tags") or {}
        for key, value in table.items():
            if not isinstance(value, str):
                raise ConfigurationError(
                    f"[tool.layer_builder] s3_tags.{key} must be a string "
                    f'(e.g. s3_tags = {{ team = "data", cost-center = "42" }})'
                )
        tags = list(table.items())
    key = setting(args, config, "sse_kms_key_id", "sse_kms_key_id")
    return S3WriteOptions(sse_kms_key_id=key, tags=tags)


def aws_settings(args: argparse.Namespace, config: dict[str, Any]) -> AwsSettings:
    """The ``AwsSettings`` the flags (and ``[tool.layer_builder]``) give."""
    from layer_builder.aws.settings import AwsSettings

    return AwsSettings(
        profile=getattr(args, "profile", None),
        region=home_region(args),
        s3_writes=s3_write_options(args, config),
    )
