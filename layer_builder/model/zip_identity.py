"""What a layer zip was made from, carried in the zip's own comment.

The comment is part of the zip's bytes, so it holds only what the build decides (the same
build gives the same identity, and so the same bytes), and it travels with the file: a zip
copied, uploaded by hand or left by an earlier ``package`` still says which build it holds.
``upload`` and ``publish`` compare it with what the current manifest, target and options give,
so a stale or differently packaged zip is never published under this build's label.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import attrs

from layer_builder.archive import zipformat

IDENTITY_FORMAT = 1
_PREFIX = b"layer_builder "


@attrs.frozen(kw_only=True)
class ZipIdentity:
    """The build a layer zip holds."""

    #: The layer fingerprint (manifest, target, install and package options).
    fingerprint: str
    manifest_sha256: str
    runtime: str
    architecture: str
    #: ``archive.deflate.backend_identity``: what decides the compressed bytes.
    compression: str

    def to_comment(self) -> bytes:
        """The archive comment carrying this identity (canonical JSON after a prefix)."""
        document = {"format": IDENTITY_FORMAT, **attrs.asdict(self)}
        return _PREFIX + json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_comment(cls, comment: bytes) -> ZipIdentity | None:
        """The identity in a zip comment; None for a zip not written by layer_builder."""
        if not comment.startswith(_PREFIX):
            return None
        try:
            document = json.loads(comment[len(_PREFIX) :])
            if document.pop("format") != IDENTITY_FORMAT:
                return None
            return cls(**{field.name: str(document[field.name]) for field in attrs.fields(cls)})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    @classmethod
    def read(cls, path_zip: Path) -> ZipIdentity | None:
        """The identity of the zip at ``path_zip`` (None when it carries none)."""
        try:
            return cls.from_comment(zipformat.read_comment(path_zip))
        except zipfile.BadZipFile:
            return None
