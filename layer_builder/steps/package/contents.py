"""The contents record of a packaged layer (``contents.json`` beside the zip): each
distribution with its version, files, unzipped and zipped bytes and licence."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from layer_builder.archive.safe_files import write_replacing
from layer_builder.model.contents import DistributionContents, LayerContents
from layer_builder.model.target import LayerTarget
from layer_builder.steps.package.size_report import UNOWNED

if TYPE_CHECKING:  # the package step writes this record: no import cycle at run time
    from layer_builder.steps.package.step import PackageResult


def contents_of(result: PackageResult, target: LayerTarget) -> LayerContents:
    """What ``result``'s zip holds, from its size report and licence report."""
    licenses = {canonicalize_name(lic.name): lic for lic in result.licenses}
    distributions = []
    for size in result.distributions:
        if size.name == UNOWNED:
            continue  # counted in the totals; no distribution to compare
        declared = licenses.get(canonicalize_name(size.name))
        distributions.append(
            DistributionContents(
                name=size.name,
                version=size.version,
                files=size.files,
                unzipped_size=size.unzipped_size,
                zipped_size=size.zipped_size,
                license=(declared.expression or declared.text or None) if declared else None,
            )
        )
    return LayerContents(
        zip_sha256=result.sha256,
        fingerprint=result.fingerprint,
        # The zip's own identity says "universal" for a zip that serves several targets.
        runtime=result.identity.runtime if result.identity else target.runtime,
        architecture=result.identity.architecture if result.identity else target.architecture,
        files=result.files,
        unzipped_size=result.unzipped_size,
        zip_size=result.zip_size,
        distributions=tuple(sorted(distributions, key=lambda d: d.canonical_name)),
    )


def write_contents(path: Path, contents: LayerContents) -> Path:
    """Write ``contents`` to ``path``, swapped in whole (see ``archive.safe_files``)."""
    write_replacing(path, contents.dumps())
    return path
