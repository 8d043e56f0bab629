"""The layer's software bill of materials: a CycloneDX 1.6 JSON document of the distributions
the zip ships, written with ``cyclonedx-python-lib``.

Here because the package step is what knows which distributions go into the zip (after
``--exclude``) and the zip's own hash. Each distribution is a ``library`` component with its
purl (``pkg:pypi/<name>@<version>``), its declared licence, and the SHA-256 of its ``RECORD`` as
shipped: ``RECORD`` lists the SHA-256 of every file the distribution installed, so that one
hash pins all of them, and anyone can check it against the zip
(``unzip -p layer.zip python/<dist-info>/RECORD | sha256sum``). The document's root component
is ``layer.zip`` itself, with the zip's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from layer_builder._version import __version__
from layer_builder.archive.safe_files import write_replacing
from layer_builder.errors import ProjectError
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.model.fingerprint import UNIVERSAL
from layer_builder.model.licenses import DistributionLicense

# cyclonedx-python-lib takes longer to import than a small layer takes to package: loaded
# only when a document is made, not by every command that imports the package step.
if TYPE_CHECKING:
    from cyclonedx.model.component import Component
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
    from packageurl import PackageURL

#: The file name beside ``layer.zip`` (and under each version's folder in S3).
SBOM_FILENAME = "sbom.cdx.json"
#: The CycloneDX version written: 1.6 is what SBOM tools read widely today.
SCHEMA_VERSION = "1.6"
#: Namespace of the properties this tool adds (CycloneDX's convention: ``tool:name``).
PROPERTY_PREFIX = "layer-builder"


@attrs.frozen
class LayerSubject:
    """What the SBOM describes as a whole: the zip and the target it was built for."""

    zip_sha256: str
    runtime: str
    architecture: str
    fingerprint: str


def purl(name: str, version: str) -> PackageURL:
    """``pkg:pypi/pyyaml@6.0.2``: the purl spec lowercases PyPI names and writes ``_`` as ``-``."""
    from packageurl import PackageURL

    return PackageURL(type="pypi", name=name.lower().replace("_", "-"), version=version)


def _record_sha256(dir_python: Path, distribution: InstalledDistribution) -> str:
    return hashlib.sha256((dir_python / distribution.dist_info / "RECORD").read_bytes()).hexdigest()


def _licenses(licence: DistributionLicense) -> list[LicenseExpression | DisjunctiveLicense]:
    from cyclonedx.model.license import (
        DisjunctiveLicense,
        LicenseAcknowledgement,
        LicenseExpression,
    )

    declared = LicenseAcknowledgement.DECLARED
    if licence.expression is None:
        return (
            [DisjunctiveLicense(name=licence.text, acknowledgement=declared)]
            if licence.text
            else []
        )
    if " " in licence.expression:  # an expression of several licences
        return [LicenseExpression(licence.expression, acknowledgement=declared)]
    return [DisjunctiveLicense(id=licence.expression, acknowledgement=declared)]


def _component(
    dir_python: Path, distribution: InstalledDistribution, licence: DistributionLicense
) -> Component:
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component, ComponentType

    url = purl(distribution.name, distribution.version)
    properties = [Property(name=f"{PROPERTY_PREFIX}:dist-info", value=distribution.dist_info)]
    if licence.source:
        properties.append(Property(name=f"{PROPERTY_PREFIX}:license-source", value=licence.source))
    return Component(
        type=ComponentType.LIBRARY,
        name=distribution.name,
        version=distribution.version,
        purl=url,
        bom_ref=url.to_string(),
        hashes=[
            HashType(alg=HashAlgorithm.SHA_256, content=_record_sha256(dir_python, distribution))
        ],
        licenses=_licenses(licence),
        properties=properties,
    )


def make_sbom(
    dir_python: Path,
    distributions: Sequence[InstalledDistribution],
    licences: Sequence[DistributionLicense],
    subject: LayerSubject,
) -> str:
    """The CycloneDX JSON document (text) for ``distributions`` installed in ``dir_python``,
    ``licences`` in the same order."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion

    root = Component(
        type=ComponentType.FILE,
        name="layer.zip",
        bom_ref="layer.zip",
        description=(
            "AWS Lambda layer for several runtimes and architectures (pure Python)"
            if subject.runtime == UNIVERSAL
            else f"AWS Lambda layer for {subject.runtime} {subject.architecture}"
        ),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=subject.zip_sha256)],
        properties=[
            Property(name=f"{PROPERTY_PREFIX}:runtime", value=subject.runtime),
            Property(name=f"{PROPERTY_PREFIX}:architecture", value=subject.architecture),
            Property(name=f"{PROPERTY_PREFIX}:fingerprint", value=subject.fingerprint),
        ],
    )
    bom = Bom()
    bom.metadata.component = root
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="lambda-layer-builder", version=__version__)
    )
    components = [
        _component(dir_python, d, lic) for d, lic in zip(distributions, licences, strict=True)
    ]
    for component in components:
        bom.components.add(component)
    bom.register_dependency(root, components)
    outputter = make_outputter(bom, OutputFormat.JSON, SchemaVersion.from_version(SCHEMA_VERSION))
    return outputter.output_as_string(indent=2) + "\n"


def write_sbom(
    path: Path,
    dir_python: Path,
    distributions: Sequence[InstalledDistribution],
    licences: Sequence[DistributionLicense],
    subject: LayerSubject,
) -> Path:
    """Write the document of ``make_sbom`` to ``path`` (atomically: a reader never sees half;
    through a partial file of its own, never through a link at ``path``)."""
    document = make_sbom(dir_python, distributions, licences, subject)
    write_replacing(path, document.encode("utf-8"))
    return path


def sbom_is_current(path: Path, zip_sha256: str) -> bool:
    """Whether ``path`` is already the SBOM this version writes for the zip ``zip_sha256``:
    the zip's bytes fix everything the document says (its distributions, their ``RECORD``
    and ``METADATA``, the identity in its comment), so an unchanged zip keeps its SBOM."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tools = data["metadata"]["tools"]["components"]
        written_by = {(t.get("name"), t.get("version")) for t in tools}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    described = _described_sha256(data)
    return described == zip_sha256 and ("lambda-layer-builder", __version__) in written_by


def _described_sha256(data: Any) -> str | None:
    """The ``layer.zip`` SHA-256 a parsed SBOM names, or None when it names none."""
    try:
        hashes = data["metadata"]["component"]["hashes"]
        return next(str(h["content"]) for h in hashes if h["alg"] == "SHA-256")
    except (KeyError, TypeError, StopIteration):
        return None


def sbom_zip_sha256(document: str, where: str) -> str:
    """The ``layer.zip`` SHA-256 an SBOM names (to tell whether it describes a given zip)."""
    try:
        described = _described_sha256(json.loads(document))
    except ValueError:
        described = None
    if described is None:
        raise ProjectError(
            f"{where} is not an SBOM written by layer-builder: run `layer-builder package` "
            f"to write it again"
        )
    return described
