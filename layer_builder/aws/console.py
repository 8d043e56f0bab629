"""Links to the AWS console for what a run made: the S3 object and the layer version.

The console is regional: a link that names the region opens where the resource lives, instead
of the region the browser last used. No AWS call is made.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:  # s3pathlib imports boto3: not for the commands that only print a link
    from layer_builder.model.s3path import S3Path

_LAYER_VERSION_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):[0-9]{12}:layer:"
    r"(?P<name>[A-Za-z0-9_-]+):(?P<version>[0-9]+)"
)


def console_host(region: str) -> str:
    """``us-east-1.console.aws.amazon.com``, with the console domain of the region's
    partition (China, GovCloud)."""
    if region.startswith("cn-"):
        domain = "console.amazonaws.cn"
    elif region.startswith("us-gov-"):
        domain = "console.amazonaws-us-gov.com"
    else:
        domain = "console.aws.amazon.com"
    return f"{region}.{domain}"


def s3_console_url(s3path: S3Path, region: str | None) -> str:
    """The S3 console page of the object ``s3path`` in a bucket of ``region`` (the global
    console when the region is not known)."""
    if not region:
        return str(s3path.console_url)
    key = quote(s3path.key, safe="/")
    return f"https://{console_host(region)}/s3/object/{s3path.bucket}?region={region}&prefix={key}"


def layer_version_console_url(layer_version_arn: str) -> str | None:
    """The Lambda console page of a layer version, from its ARN (None for no such ARN)."""
    match = _LAYER_VERSION_ARN.fullmatch(layer_version_arn or "")
    if match is None:
        return None
    region, name, version = match["region"], match["name"], match["version"]
    return (
        f"https://{console_host(region)}/lambda/home?region={region}"
        f"#/layers/{name}/versions/{version}"
    )
