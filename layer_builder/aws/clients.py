"""AWS clients for the pipeline, and the translation of AWS failures into clear errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import attrs
import boto3
import botocore.config
import botocore.exceptions

from layer_builder.errors import AwsError
from layer_builder.model.s3path import S3Path

_RETRIES = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5})


@attrs.frozen
class AwsClients:
    """The S3 and Lambda clients the steps talk to, in one region."""

    s3: Any = attrs.field(repr=False)
    lambda_: Any = attrs.field(repr=False)
    #: Where the clients came from, to make the same account's clients in other regions.
    session: Any = attrs.field(default=None, repr=False, eq=False)
    endpoint_url: str | None = None

    @property
    def region(self) -> str:
        return str(self.lambda_.meta.region_name)

    def for_region(self, region: str) -> AwsClients:
        """The same credentials and endpoint in ``region`` (for multi-region publishing)."""
        if region == self.region:
            return self
        if self.session is None:
            raise AwsError(
                f"cannot make AWS clients for region {region!r} from clients built by hand: "
                f"build them with AwsClients.from_session()"
            )
        kwargs: dict[str, Any] = {"config": _RETRIES, "region_name": region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return AwsClients(
            s3=self.session.client("s3", **kwargs),
            lambda_=self.session.client("lambda", **kwargs),
            session=self.session,
            endpoint_url=self.endpoint_url,
        )

    @classmethod
    def from_session(
        cls, session: boto3.session.Session | None = None, endpoint_url: str | None = None
    ) -> AwsClients:
        """Clients from the normal boto3 chain (profile, env, ``AWS_ENDPOINT_URL``...)."""
        session = session or boto3.session.Session()
        # botocore reads only AWS_DEFAULT_REGION; AWS_REGION is what the other SDKs, the
        # Lambda runtime and most CI setups export, so honour it as well.
        region = session.region_name or os.environ.get("AWS_REGION")
        if not region:
            raise AwsError(
                "no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), "
                "or a region in your AWS profile"
            )
        kwargs: dict[str, Any] = {"config": _RETRIES, "region_name": region}
        if endpoint_url:
            kwargs["endpoint_url"] = endpoint_url
        return cls(
            s3=session.client("s3", **kwargs),
            lambda_=session.client("lambda", **kwargs),
            session=session,
            endpoint_url=endpoint_url,
        )


_HINTS = {
    "NoSuchBucket": "create the bucket or pass another --s3dir",
    "NoSuchKey": "check the S3 folder (--s3dir), or upload the object first",
    "InvalidBucketName": "use 3 to 63 lowercase letters, digits, '.' and '-' (--s3dir)",
    "404": "check the name, or create it",
    "AccessDenied": "grant the caller access, or use other credentials",
    "403": "grant the caller access, or use other credentials",
    "InvalidAccessKeyId": "check your AWS credentials",
    "ExpiredToken": "refresh your AWS credentials",
    "ResourceNotFoundException": "check the name and the region",
}


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn botocore failures inside the block into an ``AwsError`` naming ``action``."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = error.get("Message") or exc.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode", ""
        )
        hint = _HINTS.get(code, "see the AWS error above")
        raise AwsError(f"{action} failed: {code} {detail}: {hint}".replace("  ", " ")) from exc
    except botocore.exceptions.NoCredentialsError:
        raise AwsError(
            f"{action} failed: no AWS credentials found: configure a profile or the "
            f"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables, or try --local"
        ) from None
    except botocore.exceptions.EndpointConnectionError as exc:
        raise AwsError(
            f"{action} failed: cannot reach {exc.kwargs.get('endpoint_url')}: check "
            f"AWS_ENDPOINT_URL and your network"
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        # Anything else botocore raises (bad parameters, timeouts, broken connections)
        # still deserves one line instead of a traceback.
        message = " ".join(str(exc).split())
        raise AwsError(
            f"{action} failed: {message}: check the arguments and your AWS configuration"
        ) from exc


_NOT_FOUND = frozenset({"404", "NoSuchKey", "NoSuchVersion"})


def error_code(exc: botocore.exceptions.ClientError) -> str:
    """The AWS error code of a failed call (``"NoSuchKey"``, ``"404"``...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` says the S3 object (or the object version) does not exist."""
    return isinstance(exc, botocore.exceptions.ClientError) and error_code(exc) in _NOT_FOUND


def head_object_or_none(s3: Any, s3path: S3Path, version_id: str | None = None) -> Any:
    """HeadObject of ``s3path`` (or one version of it), or None when it does not exist;
    any other failure is an ``AwsError``."""
    kwargs = {"VersionId": version_id} if version_id else {}
    with aws_errors(f"reading {s3path.uri}"):
        try:
            return s3.head_object(Bucket=s3path.bucket, Key=s3path.key, **kwargs)
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return None
            raise


def check_bucket(s3: Any, bucket: str) -> None:
    """Fail before any work when the bucket is missing or not ours to use."""
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in ("404", "NoSuchBucket"):
            raise AwsError(
                f"S3 bucket {bucket!r} does not exist: create it or pass another --s3dir"
            ) from None
        if code in ("403", "AccessDenied"):
            raise AwsError(
                f"no access to S3 bucket {bucket!r}: grant the caller s3:ListBucket, "
                f"s3:GetObject and s3:PutObject on it, or use other credentials"
            ) from None
        with aws_errors(f"checking S3 bucket {bucket!r}"):
            raise
    except botocore.exceptions.BotoCoreError:
        with aws_errors(f"checking S3 bucket {bucket!r}"):
            raise
