"""What the user decides about published versions, checked against Lambda's limits."""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from layer_builder.choices import choice_validator
from layer_builder.errors import ConfigurationError
from layer_builder.model.fingerprint import VersionStamp

LAYER_NAME = re.compile(r"[A-Za-z0-9_-]{1,140}")
#: Lambda allows 256 characters of Description; the version stamp takes the rest.
MAX_DESCRIPTION_PREFIX = 256 - len(VersionStamp("0" * 64, "0" * 64).to_description()) - 1
MAX_LICENSE_INFO = 512


def validate_layer_name(name: str) -> str:
    """``name`` when Lambda accepts it as a layer name, else a ``ConfigurationError``."""
    if not LAYER_NAME.fullmatch(name or ""):
        raise ConfigurationError(
            f"invalid layer name {name!r}: use 1 to 140 letters, digits, '-' or '_' "
            f"(e.g. --layer-name my_app_deps)"
        )
    return name


def _check_description(_: object, __: object, value: str) -> None:
    if len(value) > MAX_DESCRIPTION_PREFIX:
        raise ConfigurationError(
            f"description is {len(value)} characters, over the {MAX_DESCRIPTION_PREFIX} that "
            f"fit next to the version stamp in Lambda's 256: shorten --description"
        )


STORAGE_MODES = ("COPY", "REFERENCE")


#: Lambda's ``S3ObjectStorageMode`` values.
StorageMode = Literal["COPY", "REFERENCE"]


def check_storage_mode_supported(lambda_: Any) -> None:
    """Refuse ``S3ObjectStorageMode`` when the installed botocore does not know it."""
    operation = lambda_.meta.service_model.operation_model("PublishLayerVersion")
    if "S3ObjectStorageMode" not in operation.input_shape.members["Content"].members:
        raise ConfigurationError(
            "the installed boto3/botocore does not know Lambda's S3ObjectStorageMode: "
            "upgrade boto3, or drop --storage-mode"
        )


def reference_needs_versioning(bucket: str) -> ConfigurationError:
    """The error for ``REFERENCE`` storage on an unversioned bucket."""
    return ConfigurationError(
        f"storage mode REFERENCE needs a versioned bucket and s3://{bucket}/ is not versioned: "
        f"enable versioning on it, or drop --storage-mode REFERENCE"
    )


def require_versioned_bucket(s3: Any, bucket: str) -> None:
    """Fail before any work when REFERENCE storage is asked of an unversioned bucket."""
    from layer_builder.aws.clients import aws_errors  # boto3: not for a workflow that only builds

    with aws_errors(f"reading the versioning of S3 bucket {bucket!r}"):
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    if status != "Enabled":
        raise reference_needs_versioning(bucket)


def _check_license_info(_: object, __: object, value: str | None) -> None:
    if value is not None and len(value) > MAX_LICENSE_INFO:
        raise ConfigurationError(
            f"license info is {len(value)} characters, over Lambda's {MAX_LICENSE_INFO}: "
            f"shorten --license-info (an SPDX identifier or a URL)"
        )


@attrs.frozen(kw_only=True)
class PublishOptions:
    """What the user decides about the versions published (the layer's name is given to
    ``PublishStep`` and ``LayerWorkflow`` themselves)."""

    description: str = attrs.field(default="", validator=_check_description)
    license_info: str | None = attrs.field(default=None, validator=_check_license_info)
    force: bool = False
    #: Lambda's ``S3ObjectStorageMode``: None (Lambda's default, a copy), ``COPY`` or
    #: ``REFERENCE`` (Lambda reads the S3 object itself; needs a versioned bucket).
    storage_mode: StorageMode | None = attrs.field(
        default=None,
        validator=choice_validator(STORAGE_MODES, "storage mode", "--storage-mode", optional=True),
    )
    #: A universal version (one pure-Python zip for several targets, same manifest and
    #: options) counts as holding this target's build, and ``MatrixRun`` publishes one when
    #: the targets' trees allow it; False (``--no-universal``): one version per target.
    universal: bool = True
