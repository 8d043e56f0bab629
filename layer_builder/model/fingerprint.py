"""What identifies a build: the manifest's bytes, the target, the tool and package options.

Two builds with the same fingerprint make the same layer, so the fingerprint is what
publishing compares. It travels in the S3 object's metadata and in the layer version's
Description (``... [layer_builder fingerprint=<hex> manifest-sha256=<hex>]``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

import attrs

from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget

FINGERPRINT_FORMAT = 1

_DESCRIPTION_TAG = re.compile(
    r"\[layer_builder fingerprint=(?P<fingerprint>[0-9a-f]{64}) "
    r"manifest-sha256=(?P<manifest_sha256>[0-9a-f]{64})\]"
)


#: The runtime and architecture of a universal layer in its fingerprint and zip identity.
UNIVERSAL = "universal"


def compute_fingerprint(
    manifest: Manifest,
    target: LayerTarget | None,
    package_options: Mapping[str, object],
    install_options: Mapping[str, object] | None = None,
) -> str:
    """The sha256 hex digest of everything that decides the layer's content: the manifest
    (and the source of the local packages it installs), the target, what is installed
    beyond the main dependencies (extras, groups) and what the package step leaves out.

    ``target=None`` gives a universal layer's fingerprint (one pure-Python zip for several
    targets): ``"universal"`` stands for the runtime and the architecture, whatever the
    targets, so that it never equals a single target's and stays the same when the set of
    targets changes (a version's declared runtimes and architectures say where it serves).
    """
    document = {
        "format": FINGERPRINT_FORMAT,
        "tool": manifest.tool.value,
        "manifest_sha256": manifest.sha256,
        "runtime": target.runtime if target is not None else UNIVERSAL,
        "architecture": target.architecture if target is not None else UNIVERSAL,
        # Empty options are left out, so that None and the defaults give the same value.
        "install": {k: v for k, v in (install_options or {}).items() if v},
        "package": dict(package_options),
    }
    if manifest.local_sources:  # only then, so that other fingerprints stay what they were
        document["local_sources"] = dict(manifest.local_sources)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@attrs.frozen
class VersionStamp:
    """The identifying part of a layer version's Description."""

    fingerprint: str
    manifest_sha256: str

    def to_description(self, prefix: str = "") -> str:
        """The Description text: ``prefix``, then the tag that change detection reads back."""
        tag = (
            f"[layer_builder fingerprint={self.fingerprint} manifest-sha256={self.manifest_sha256}]"
        )
        return f"{prefix.strip()} {tag}" if prefix.strip() else tag

    @classmethod
    def from_description(cls, description: str | None) -> VersionStamp | None:
        """The stamp in a Description, or None for a version not published by layer_builder."""
        match = _DESCRIPTION_TAG.search(description or "")
        if match is None:
            return None
        return cls(match["fingerprint"], match["manifest_sha256"])
