"""AWS clients for the pipeline, and the translation of AWS failures into clear errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

import attrs
import boto3
import botocore.exceptions

from layer_builder.aws.client_config import ClientTimeouts, expect_bucket_owner, make_client
from layer_builder.aws.write_options import S3WriteOptions
from layer_builder.errors import AwsError
from layer_builder.model.s3path import S3Path

if TYPE_CHECKING:  # the stubs are a development dependency (boto3-stubs)
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client


def session_region(session: boto3.session.Session, what: str = "") -> str:
    """The session's region, else ``AWS_REGION``; an ``AwsError`` saying how to set one."""
    # botocore reads only AWS_DEFAULT_REGION; AWS_REGION is what the other SDKs, the
    # Lambda runtime and most CI setups export, so honour it as well.
    region = session.region_name or os.environ.get("AWS_REGION")
    if not region:
        needs = f"{what} needs an AWS region, and " if what else ""
        raise AwsError(
            f"{needs}no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), "
            f"or a region in your AWS profile"
        )
    return str(region)


@attrs.frozen
class AwsClients:
    """The S3 and Lambda clients the steps talk to, in one region.

    With ``expected_bucket_owner`` (an account id), every S3 call whose input has
    ``ExpectedBucketOwner`` carries it: a handler on the S3 client adds it, so no call site
    can forget it (see :func:`~layer_builder.aws.client_config.expect_bucket_owner`).
    ``write_options`` (SSE-KMS, tags) reach every object written the same way.
    """

    s3: S3Client = attrs.field(repr=False)
    lambda_: LambdaClient = attrs.field(repr=False)
    #: Where the clients came from, to make the same account's clients in other regions.
    session: Any = attrs.field(default=None, repr=False, eq=False)
    endpoint_url: str | None = None
    expected_bucket_owner: str | None = None
    timeouts: ClientTimeouts = attrs.field(factory=ClientTimeouts, repr=False)
    #: Encryption and tags of every object written (see ``aws.write_options``).
    write_options: S3WriteOptions = attrs.field(factory=S3WriteOptions)

    def __attrs_post_init__(self) -> None:
        if self.expected_bucket_owner:
            expect_bucket_owner(self.s3, self.expected_bucket_owner)
        if self.write_options.is_set:
            self.write_options.check_region(self.region)
            self.write_options.register(self.s3)

    @property
    def region(self) -> str:
        """The region the clients talk to."""
        return str(self.lambda_.meta.region_name)

    @cached_property
    def ssm(self) -> Any:
        """An SSM client in the same region, made on first use (only ``--ssm-parameter``
        needs one)."""
        if self.session is None:
            raise AwsError(
                "cannot make an SSM client from AWS clients built by hand: build them with "
                "AwsClients.from_session()"
            )
        return make_client(
            self.session,
            "ssm",
            region=self.region,
            endpoint_url=self.endpoint_url,
            timeouts=self.timeouts,
        )

    def for_region(self, region: str) -> AwsClients:
        """The same credentials, endpoint and settings in ``region`` (for multi-region
        publishing)."""
        if region == self.region:
            return self
        if self.session is None:
            raise AwsError(
                f"cannot make AWS clients for region {region!r} from clients built by hand: "
                f"build them with AwsClients.from_session()"
            )
        return self._made(self.session, region)

    def with_expected_bucket_owner(self, account: str | None) -> AwsClients:
        """These clients, sending ``ExpectedBucketOwner=account`` on every S3 call."""
        if not account or account == self.expected_bucket_owner:
            return self
        if self.session is not None:  # fresh clients: the given ones stay as they were
            return self._made(self.session, self.region, expected_bucket_owner=account)
        return attrs.evolve(self, expected_bucket_owner=account)

    def with_write_options(self, options: S3WriteOptions) -> AwsClients:
        """These clients, writing every S3 object with ``options`` (SSE-KMS, tags)."""
        if options == self.write_options:
            return self
        if self.session is not None:  # fresh clients: the given ones stay as they were
            return self._made(self.session, self.region, write_options=options)
        options.register(self.s3)  # also takes off what these clients registered before
        return attrs.evolve(self, write_options=options)

    def _made(self, session: Any, region: str, **changes: Any) -> AwsClients:
        """New clients with these settings, ``changes`` applied (before any handler is
        registered on them)."""
        make = partial(make_client, session, region=region, timeouts=self.timeouts)
        settings: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "expected_bucket_owner": self.expected_bucket_owner,
            "timeouts": self.timeouts,
            "write_options": self.write_options,
            **changes,
        }
        return AwsClients(
            s3=make("s3", endpoint_url=self.endpoint_url),
            lambda_=make("lambda", endpoint_url=self.endpoint_url),
            session=session,
            **settings,
        )

    @classmethod
    def from_session(
        cls,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
        *,
        expected_bucket_owner: str | None = None,
        timeouts: ClientTimeouts | None = None,
        write_options: S3WriteOptions | None = None,
    ) -> AwsClients:
        """Clients from the normal boto3 chain (profile, env, ``AWS_ENDPOINT_URL``...), with
        bounded timeouts (``timeouts``) and a checked endpoint URL."""
        session = session or boto3.session.Session()
        region = session_region(session)
        timeouts = timeouts or ClientTimeouts()
        make = partial(make_client, session, region=region, timeouts=timeouts)
        return cls(
            s3=make("s3", endpoint_url=endpoint_url),
            lambda_=make("lambda", endpoint_url=endpoint_url),
            session=session,
            endpoint_url=endpoint_url,
            expected_bucket_owner=expected_bucket_owner,
            timeouts=timeouts,
            write_options=write_options or S3WriteOptions(),
        )


_HINTS = {
    "NoSuchBucket": "create the bucket or pass another --s3dir",
    "NoSuchKey": "check the S3 folder (--s3dir), or upload the object first",
    "InvalidBucketName": "use 3 to 63 lowercase letters, digits, '.' and '-' (--s3dir)",
    "404": "check the name, or create it",
    "AccessDenied": "grant the caller access, or use other credentials",
    "403": "grant the caller access, or use other credentials",
    "AccessDeniedException": "grant the caller access, or use other credentials",
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
    except (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError) as exc:
        kind = "connect" if isinstance(exc, botocore.exceptions.ConnectTimeoutError) else "read"
        raise AwsError(
            f"{action} failed: {exc.kwargs.get('endpoint_url')} did not answer in time "
            f"({kind} timeout, on every attempt): check AWS_ENDPOINT_URL, your network and "
            f"proxy, then run again"
        ) from exc
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


def head_object_or_none(
    s3: Any, s3path: S3Path, version_id: str | None = None, *, checksum: bool = False
) -> Any:
    """HeadObject of ``s3path`` (or one version of it; with its checksum when asked), or None
    when it does not exist; any other failure is an ``AwsError``."""
    kwargs: dict[str, str] = {"VersionId": version_id} if version_id else {}
    if checksum:
        kwargs["ChecksumMode"] = "ENABLED"
    with aws_errors(f"reading {s3path.uri}"):
        try:
            return s3.head_object(Bucket=s3path.bucket, Key=s3path.key, **kwargs)
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return None
            raise


def bucket_region(response: Any) -> str | None:
    """The region a HeadBucket answer (or its error) names, if any."""
    found = response.get("BucketRegion")
    if not found:
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        found = headers.get("x-amz-bucket-region")
    return str(found) if found else None


def check_bucket(
    s3: Any, bucket: str, region: str | None = None, *, replicated: bool = False
) -> None:
    """Fail before any work when the bucket is missing, not ours to use, or in another
    region than ``region`` (Lambda publishes only from a bucket in its own region);
    ``replicated``: the bucket of a ``--replicate-to`` region, not the home one."""
    try:
        response = s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in ("404", "NoSuchBucket"):
            raise AwsError(
                f"S3 bucket {bucket!r} does not exist: create it or pass another --s3dir"
            ) from None
        if code in ("403", "AccessDenied"):
            raise AwsError(
                f"no access to S3 bucket {bucket!r}: grant the caller s3:ListBucket, "
                f"s3:GetObject and s3:PutObject on it, or use other credentials (or, with "
                f"--expected-bucket-owner, check the bucket belongs to that account)"
            ) from None
        with aws_errors(f"checking S3 bucket {bucket!r}"):
            raise
    except botocore.exceptions.BotoCoreError:
        with aws_errors(f"checking S3 bucket {bucket!r}"):
            raise
    found = bucket_region(response)
    if region and found and found != region:
        fix = (
            f"use a bucket in {region} (--replicate-to {region}=s3://BUCKET/PREFIX/)"
            if replicated
            else f"use a bucket in {region} (--s3dir), or publish in {found} (--region {found})"
        )
        raise AwsError(
            f"S3 bucket {bucket!r} is in {found}, but the layer is published in {region}, "
            f"and Lambda reads a layer's zip only from a bucket in its own region: {fix}"
        )
