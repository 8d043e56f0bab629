"""The licence each installed distribution declares, read from its ``*.dist-info/METADATA``.

Where it comes from, most trusted first:

1. ``License-Expression`` (core metadata 2.4, PEP 639): an SPDX expression by definition.
2. ``License``, when it is a valid SPDX expression (``MIT``, ``Apache-2.0 OR MIT``); free text
   (``Apache 2.0``, ``BSD``, a whole licence) is kept as text.
3. ``License ::`` classifiers, when each names one licence and version (the table below);
   several of them are read as a choice (``OR``), the way projects list dual licences.

A distribution whose metadata gives no SPDX expression keeps what it says as ``text``.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterable
from pathlib import Path

import attrs
from license_expression import ExpressionError, Licensing, get_spdx_licensing

from layer_builder.model.distributions import InstalledDistribution

#: ``License ::`` classifiers that name exactly one licence, and its SPDX identifier.
#: ``Apache Software License`` names no version, but every Apache-licensed project on the
#: index today uses 2.0; ``BSD License`` and the like name no variant and stay text.
CLASSIFIER_SPDX: dict[str, str] = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": (
        "GPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": (
        "GPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": (
        "LGPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": (
        "LGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": (
        "AGPL-3.0-or-later"
    ),
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}

#: What old setuptools wrote when a project gave no licence.
_NO_LICENSE = {"", "unknown", "none", "n/a"}

_licensing: Licensing | None = None


def spdx_licensing() -> Licensing:
    """The SPDX licence list of ``license-expression``, loaded once (it takes ~0.1 s)."""
    global _licensing
    if _licensing is None:
        _licensing = get_spdx_licensing()
    return _licensing


@attrs.frozen
class DistributionLicense:
    """The licence one distribution declares, and where its metadata says so."""

    name: str
    version: str
    #: A valid SPDX expression, normalised (``Apache-2.0 OR MIT``); None when the metadata
    #: gives none.
    expression: str | None
    #: The free text of ``License`` or the classifiers, when that is all there is (or when
    #: it says more than the expression).
    text: str = ""
    #: ``License-Expression``, ``License``, ``classifiers``, or "" when nothing is declared.
    source: str = ""

    @property
    def label(self) -> str:
        """What to show a person: the expression, else the text, else ``unknown``."""
        return self.expression or self.text or "unknown"


def normalise_expression(text: str) -> str | None:
    """``text`` as a normalised SPDX expression, or None when it is not one. ``LicenseRef-``
    identifiers are valid SPDX even though no list knows them."""
    text = text.strip()
    if not text or "\n" in text:
        return None
    licensing = spdx_licensing()
    try:
        parsed = licensing.parse(text, validate=False, strict=True)
    except ExpressionError:
        return None
    if parsed is None:
        return None
    unknown = [
        key
        for key in licensing.unknown_license_keys(parsed)
        if not key.startswith(("LicenseRef-", "DocumentRef-")) or " " in key
    ]
    return None if unknown else str(parsed)


def _first_line(text: str, limit: int = 200) -> str:
    """A licence's text as one short line (some projects put the whole licence in ``License``)."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def license_from_metadata(name: str, version: str, metadata: str) -> DistributionLicense:
    """The licence that ``METADATA`` (its text) declares."""
    message = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(metadata)
    declared = (message.get("License-Expression") or "").strip()
    if declared:
        expression = normalise_expression(declared)
        text = "" if expression else _first_line(declared)
        return DistributionLicense(name, version, expression, text, "License-Expression")
    license_field = (message.get("License") or "").strip()
    if license_field.lower() in _NO_LICENSE:
        license_field = ""
    expression = normalise_expression(license_field)
    if expression:
        return DistributionLicense(name, version, expression, "", "License")
    text = _first_line(license_field)
    classifiers = [c.strip() for c in message.get_all("Classifier") or []]
    licence_classifiers = [c for c in classifiers if c.startswith("License ::")]
    mapped = [CLASSIFIER_SPDX.get(c) for c in licence_classifiers]
    if mapped and all(mapped):
        spdx = sorted({m for m in mapped if m})
        joined = " OR ".join(spdx)
        return DistributionLicense(name, version, normalise_expression(joined), text, "classifiers")
    if text:
        return DistributionLicense(name, version, None, text, "License")
    if licence_classifiers:
        names = "; ".join(c.rsplit(" :: ", 1)[-1] for c in licence_classifiers)
        return DistributionLicense(name, version, None, names, "classifiers")
    return DistributionLicense(name, version, None, "", "")


def read_license(dir_python: Path, distribution: InstalledDistribution) -> DistributionLicense:
    """The licence ``distribution`` (installed in ``dir_python``) declares."""
    path = dir_python / distribution.dist_info / "METADATA"
    metadata = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return license_from_metadata(distribution.name, distribution.version, metadata)


def read_licenses(
    dir_python: Path, distributions: Iterable[InstalledDistribution]
) -> tuple[DistributionLicense, ...]:
    """The licence of each distribution, in the order given."""
    return tuple(read_license(dir_python, d) for d in distributions)


def parse_expression(expression: str) -> object:
    """A normalised expression parsed by ``license-expression`` (for ``license_policy``)."""
    return spdx_licensing().parse(expression, validate=False, strict=True)
