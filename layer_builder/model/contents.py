"""What a layer holds, distribution by distribution: the record ``package`` writes beside the
zip (``contents.json``) and each published version keeps in S3 (``layer/00000N/contents.json``),
so that the next run can say what it changes without rebuilding the old version.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from packaging.utils import canonicalize_name

from layer_builder.errors import ProjectError

#: The file name beside ``layer.zip`` (and under each version's folder in S3).
CONTENTS_FILENAME = "contents.json"
CONTENTS_FORMAT = 1


@attrs.frozen
class DistributionContents:
    """One distribution the layer ships."""

    name: str
    version: str
    files: int
    unzipped_size: int
    zipped_size: int
    #: The declared licence: an SPDX expression, else its free text; None when none.
    license: str | None = None

    @property
    def canonical_name(self) -> str:
        """The name normalised as PEP 503 says (``Tiny_YAML`` -> ``tiny-yaml``)."""
        return canonicalize_name(self.name)


@attrs.frozen
class LayerContents:
    """A layer's zip and the distributions in it (files no ``RECORD`` lists are counted in
    the totals only)."""

    zip_sha256: str
    fingerprint: str
    runtime: str
    architecture: str
    files: int
    unzipped_size: int
    zip_size: int
    distributions: tuple[DistributionContents, ...] = ()

    def versions(self) -> dict[str, tuple[str, str]]:
        """``{canonical name: (name, version)}``."""
        return {d.canonical_name: (d.name, d.version) for d in self.distributions}

    def to_json(self) -> dict[str, Any]:
        """The record as written to ``contents.json``."""
        document = attrs.asdict(self)
        return {"format": CONTENTS_FORMAT, **document}

    def dumps(self) -> bytes:
        """The canonical bytes of ``contents.json`` (sorted keys)."""
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def loads(
        cls, data: bytes, where: str, fix: str = "package again to write it"
    ) -> LayerContents:
        """Read a ``contents.json``; anything else is a ``ProjectError`` naming ``where`` and
        ``fix``."""
        try:
            document = json.loads(data)
            if document.get("format") != CONTENTS_FORMAT:
                raise ValueError(f"format {document.get('format')!r}")
            return cls(
                zip_sha256=str(document["zip_sha256"]),
                fingerprint=str(document["fingerprint"]),
                runtime=str(document["runtime"]),
                architecture=str(document["architecture"]),
                files=int(document["files"]),
                unzipped_size=int(document["unzipped_size"]),
                zip_size=int(document["zip_size"]),
                distributions=tuple(
                    DistributionContents(
                        name=str(d["name"]),
                        version=str(d["version"]),
                        files=int(d["files"]),
                        unzipped_size=int(d["unzipped_size"]),
                        zipped_size=int(d["zipped_size"]),
                        license=None if d.get("license") is None else str(d["license"]),
                    )
                    for d in document["distributions"]
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProjectError(
                f"{where} is not a contents record of layer_builder ({exc}): {fix}"
            ) from None
