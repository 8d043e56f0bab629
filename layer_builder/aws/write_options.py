"""What every object the tool writes to S3 carries: SSE-KMS encryption and object tags.

Many organisations require both by bucket policy. They are added by one event handler on the
S3 client (as ``ExpectedBucketOwner`` is, see :mod:`layer_builder.aws.client_config`), so
that every write carries them: the zips, the staging copy, the manifest backups and version
records, the publish lock, and the copies made in other regions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import attrs

from layer_builder.errors import ConfigurationError

#: S3 keeps at most 10 tags per object.
MAX_TAGS = 10
#: The S3 operations that create an object, and so take its encryption and tags.
WRITES = ("PutObject", "CopyObject", "CreateMultipartUpload")

# What S3 accepts in tag keys and values: letters, digits, spaces and + - = . _ : / @.
_TAG_TEXT = re.compile(r"[\w\s+\-=.:/@]*")
# A key id, a multi-region key id, an alias name, or the ARN of a key or an alias.
_KMS_KEY = re.compile(
    r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|mrk-[0-9a-f]{32}"
    r"|alias/[A-Za-z0-9/_-]+"
    r"|arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+"
)


def parse_tag(text: str) -> tuple[str, str]:
    """``team=data`` (the ``--s3-tag`` flag's form) -> ``("team", "data")``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigurationError(
            f"invalid S3 tag {text!r}: expected KEY=VALUE (e.g. --s3-tag team=data)"
        )
    return key, value


def _check_tag(key: str, value: str) -> None:
    if not 1 <= len(key) <= 128 or len(value) > 256:
        raise ConfigurationError(
            f"invalid S3 tag {key}={value}: S3 takes keys of 1 to 128 characters and values "
            f"of at most 256"
        )
    if key.lower().startswith("aws:"):
        raise ConfigurationError(
            f"invalid S3 tag {key}={value}: keys starting with 'aws:' are reserved by AWS: "
            f"choose another key"
        )
    for text in (key, value):
        if not _TAG_TEXT.fullmatch(text):
            raise ConfigurationError(
                f"invalid S3 tag {key}={value}: S3 takes only letters, digits, spaces and "
                f"+ - = . _ : / @ in tags"
            )


def _tags(value: Iterable[tuple[str, str]] | Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    pairs = tuple(value.items() if isinstance(value, Mapping) else value)
    return tuple((str(k), str(v)) for k, v in pairs)


def _check_tags(_: object, __: object, tags: tuple[tuple[str, str], ...]) -> None:
    keys = [key for key, _ in tags]
    for key, value in tags:
        _check_tag(key, value)
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ConfigurationError(
            f"S3 tag {repeated[0]!r} is given twice: give each key once (--s3-tag KEY=VALUE)"
        )
    if len(tags) > MAX_TAGS:
        raise ConfigurationError(
            f"{len(tags)} S3 tags given, but S3 keeps at most {MAX_TAGS} per object: drop some"
        )


def _check_key(_: object, __: object, value: str | None) -> None:
    if value is not None and not _KMS_KEY.fullmatch(value):
        raise ConfigurationError(
            f"invalid KMS key {value!r}: give a key id, a key ARN, an alias (alias/my-key) or "
            f"an alias ARN (--sse-kms-key-id)"
        )


@attrs.frozen
class S3WriteOptions:
    """SSE-KMS and tags for every object written to S3 (nothing when left empty)."""

    #: Encrypt with this KMS key (``ServerSideEncryption=aws:kms``).
    sse_kms_key_id: str | None = attrs.field(default=None, validator=_check_key)
    #: ``(key, value)`` tags, in the order given.
    tags: tuple[tuple[str, str], ...] = attrs.field(
        default=(), converter=_tags, validator=_check_tags
    )

    @property
    def is_set(self) -> bool:
        """Whether any option is given (else nothing is added to the calls)."""
        return bool(self.sse_kms_key_id or self.tags)

    @property
    def tagging(self) -> str:
        """The tags as S3's ``Tagging`` parameter takes them (URL-encoded)."""
        return urlencode(self.tags, quote_via=quote)

    def check_region(self, region: str) -> None:
        """Refuse a key ARN of another region: KMS keys are regional, so it cannot encrypt
        objects in ``region``."""
        match = _KMS_KEY.fullmatch(self.sse_kms_key_id or "")
        if match and match["region"] and match["region"] != region:
            raise ConfigurationError(
                f"the KMS key {self.sse_kms_key_id} is in {match['region']} and cannot encrypt "
                f"objects in {region}: give an alias (alias/my-key) that exists in every region "
                f"the layer goes to (--sse-kms-key-id)"
            )

    def add_to(self, params: dict[str, Any], operation: str) -> None:
        """Add the encryption and tags to the parameters of one write, unless it sets its own."""
        if self.sse_kms_key_id and "ServerSideEncryption" not in params:
            params["ServerSideEncryption"] = "aws:kms"
            params["SSEKMSKeyId"] = self.sse_kms_key_id
        if self.tags and "Tagging" not in params:
            params["Tagging"] = self.tagging
            if operation == "CopyObject":
                # A copy keeps the source's tags unless told to replace them.
                params["TaggingDirective"] = "REPLACE"

    def register(self, s3: Any) -> None:
        """Make every write of the S3 client ``s3`` carry these options (replacing any that
        an earlier copy of the clients registered on it)."""

        def add(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.add_to(params, model.name)

        for operation in WRITES:
            event = f"before-parameter-build.s3.{operation}"
            unique_id = f"layer-builder-write-options-{operation}"
            s3.meta.events.unregister(event, unique_id=unique_id)
            if self.is_set:
                s3.meta.events.register(event, add, unique_id=unique_id)
