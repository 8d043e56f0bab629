"""How a run reaches AWS, the way the AWS CLI takes it: a named profile, a home region, and
what every object written to S3 carries."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

import attrs

from layer_builder.aws.write_options import S3WriteOptions
from layer_builder.errors import AwsError, ConfigurationError

# Settings are made for every command; boto3 is loaded only when a session or clients are
# (`build` and `package` never load it: tests/test_startup.py).
if TYPE_CHECKING:
    import boto3

    from layer_builder.aws.clients import AwsClients

# us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-4 ...
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")


def check_region_name(value: str, flag: str = "--region") -> str:
    """``value`` when it looks like an AWS region name, else a ``ConfigurationError``."""
    if not _REGION.fullmatch(value):
        raise ConfigurationError(
            f"invalid AWS region {value!r}: expected a region name such as us-east-1 or "
            f"eu-west-1 ({flag})"
        )
    return value


def _check_region(_: object, __: object, value: str | None) -> None:
    if value is not None:
        check_region_name(value)


@attrs.frozen
class AwsSettings:
    """The AWS profile and home region of a run (None: boto3's own chain, which reads
    ``AWS_PROFILE``, ``AWS_REGION``/``AWS_DEFAULT_REGION`` and the profile's region), and
    the encryption and tags of every object it writes."""

    profile: str | None = None
    #: The home region: where the layer is published and its S3 folder lives.
    region: str | None = attrs.field(default=None, validator=_check_region)
    s3_writes: S3WriteOptions = attrs.field(factory=S3WriteOptions)

    def session(self) -> boto3.session.Session:
        """A boto3 session with this profile and region; an unknown profile is an
        ``AwsError`` naming where profiles are read from."""
        import boto3
        import botocore.exceptions

        try:
            return boto3.session.Session(profile_name=self.profile, region_name=self.region)
        except botocore.exceptions.ProfileNotFound:
            name = (
                self.profile
                or os.environ.get("AWS_PROFILE")
                or os.environ.get("AWS_DEFAULT_PROFILE")
            )
            where = "--profile" if self.profile else "AWS_PROFILE"
            raise AwsError(
                f"the AWS profile {name!r} ({where}) is not in your AWS configuration "
                f"(~/.aws/config, ~/.aws/credentials, or the files AWS_CONFIG_FILE and "
                f"AWS_SHARED_CREDENTIALS_FILE name): check its name with `aws configure "
                f"list-profiles`"
            ) from None

    def clients(self, given: AwsClients | None = None, **kwargs: Any) -> AwsClients:
        """Clients for these settings: made from the session, or ``given`` ones (built by
        hand or by the local endpoint; the profile does not apply to them) moved to the home
        region. ``kwargs`` go to :meth:`AwsClients.from_session`."""
        from layer_builder.aws.clients import AwsClients

        if given is None:
            return AwsClients.from_session(self.session(), write_options=self.s3_writes, **kwargs)
        clients = given.for_region(self.region) if self.region else given
        # Unset options leave the given clients' own.
        return clients.with_write_options(self.s3_writes) if self.s3_writes.is_set else clients
