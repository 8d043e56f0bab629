"""How the AWS clients are made: bounded timeouts and retries, a checked endpoint URL, and
``ExpectedBucketOwner`` on every S3 call, each set in one place."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

import attrs
import botocore.config

from layer_builder.errors import AwsError, ConfigurationError

#: The largest sleep botocore's standard retry mode takes before retry ``n`` (1-based)
#: after an error that is not throttling: ``rand(0, 1) * min(scale * 2 ** (n - 1), 20)``, with
#: ``scale`` 0.05 s in botocore 1.40+ and 1 s before; 1 s is the bound used here.
_BACKOFF_SCALE_BOUND = 1.0
_MAX_BACKOFF = 20.0


@attrs.frozen
class ClientTimeouts:
    """How long one AWS call may wait before it fails with a message.

    botocore's defaults (60 s to connect, 60 s to read, legacy mode, 5 attempts) let a
    frozen endpoint hold a run for about six minutes. With these, a call to an endpoint
    that accepts connections but never answers fails after at most
    3 attempts x (4 s connect + 14 s read) + backoff (1 s + 2 s) = 57 s, under a minute
    (``worst_case_seconds``). A read waits for the first byte of an answer, not for a
    whole upload: 14 s is ample for S3 and for PublishLayerVersion.
    """

    connect_timeout: float = 4.0
    read_timeout: float = 14.0
    #: Including the first attempt ("standard" retry mode: throttling and transient errors).
    max_attempts: int = 3

    @property
    def worst_case_seconds(self) -> float:
        """The longest a call can take when the endpoint never answers."""
        backoff = sum(
            min(_BACKOFF_SCALE_BOUND * 2.0 ** (n - 1), _MAX_BACKOFF)
            for n in range(1, self.max_attempts)
        )
        return self.max_attempts * (self.connect_timeout + self.read_timeout) + backoff

    def config(self) -> botocore.config.Config:
        """The botocore ``Config`` with these timeouts and standard retries."""
        return botocore.config.Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            # botocore's "max_attempts" counts retries only (measured: 1 makes two requests).
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
        )


#: Where botocore looks for a service's endpoint, most specific first.
_ENDPOINT_VARIABLES = {
    "s3": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "lambda": ("AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"),
    "codeartifact": ("AWS_ENDPOINT_URL_CODEARTIFACT", "AWS_ENDPOINT_URL"),
    "ssm": ("AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL"),
}


def _configured_endpoint(session: Any, service: str, given: str | None) -> tuple[str | None, str]:
    """The endpoint URL botocore was asked to use (None: not known here) and where it came
    from, for a message: the one given, else the first ``AWS_ENDPOINT_URL*`` variable set
    (botocore's order), else the profile's."""
    if given:
        return given, "the endpoint_url given"
    for name in _ENDPOINT_VARIABLES.get(service, ("AWS_ENDPOINT_URL",)):
        value = os.environ.get(name)
        if value:
            return value, name
    try:
        value = session._session.get_scoped_config().get("endpoint_url")
    except Exception:  # a profile that cannot be read: said elsewhere, not here
        value = None
    return (str(value) if value else None), "the AWS profile's endpoint_url"


def _bad_endpoint(value: str | None, source: str) -> AwsError:
    endpoint = f"the AWS endpoint {value!r} (from {source})" if value else source
    return AwsError(
        f"{endpoint} is not an http:// or https:// URL with a host: set it to the endpoint's "
        f"address (e.g. http://127.0.0.1:5000), or unset it to use AWS"
    )


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # "Port out of range", or not a number: a ValueError
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def make_client(
    session: Any,
    service: str,
    region: str,
    endpoint_url: str | None = None,
    timeouts: ClientTimeouts | None = None,
) -> Any:
    """``session.client(service)`` with bounded timeouts; an endpoint URL (given, from
    ``AWS_ENDPOINT_URL*`` or from the profile) that is no http(s) URL is an ``AwsError``
    here, before any call."""
    kwargs: dict[str, Any] = {
        "config": (timeouts or ClientTimeouts()).config(),
        "region_name": region,
    }
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    try:
        client = session.client(service, **kwargs)
    except ValueError:
        # botocore's "Invalid endpoint: <url>", or urllib's "Invalid IPv6 URL" naming none.
        raise _bad_endpoint(*_configured_endpoint(session, service, endpoint_url)) from None
    # botocore accepts any scheme here and fails at the first call, after the build.
    resolved = str(client.meta.endpoint_url)
    if not _is_http_url(resolved):
        _, source = _configured_endpoint(session, service, endpoint_url)
        raise _bad_endpoint(resolved, source)
    return client


def check_account_id(value: str) -> str:
    """``value`` if it is an AWS account id (12 digits), else a ``ConfigurationError``."""
    if not re.fullmatch(r"[0-9]{12}", value):
        raise ConfigurationError(
            f"expected bucket owner {value!r} is not an AWS account id: give the 12 digits of "
            f"the account that owns the bucket (e.g. --expected-bucket-owner 123456789012)"
        )
    return value


def expect_bucket_owner(s3: Any, account: str) -> None:
    """Send ``ExpectedBucketOwner=account`` (and ``ExpectedSourceBucketOwner`` on copies)
    with every call of ``s3`` whose input has it, unless the call sets its own.

    S3 then refuses (403) any bucket another account owns, so an object is never written
    to, nor read from, a bucket that changed hands under the same name.
    """
    check_account_id(account)

    def add_owner(params: dict[str, Any], model: Any, **_: Any) -> None:
        members = model.input_shape.members if model.input_shape is not None else {}
        for member in ("ExpectedBucketOwner", "ExpectedSourceBucketOwner"):
            if member in members:
                params.setdefault(member, account)

    s3.meta.events.register(
        "before-parameter-build.s3", add_owner, unique_id="layer-builder-expected-bucket-owner"
    )
