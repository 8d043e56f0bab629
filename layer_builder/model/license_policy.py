"""``--deny-license``: refuse to ship a distribution whose licence the operator does not accept.

The rule, for a distribution whose licence is the SPDX expression ``E``:

- each denied entry is one SPDX licence identifier (``GPL-3.0-only``) or a pattern of them
  with ``*`` and ``?`` (``AGPL-*``), compared case-insensitively;
- a licence identifier in ``E`` is denied when an entry matches it; in ``X WITH exception`` the
  licence ``X`` is what is matched (an exception does not lift a deny);
- ``A AND B`` must accept both, so it is denied when ``A`` or ``B`` is;
- ``A OR B`` lets the user choose, so it is denied only when ``A`` and ``B`` both are.

In other words the distribution is refused when every way of taking it (each alternative of
the expression) includes a denied licence. A distribution that declares no SPDX expression
(free text such as ``BSD License``, or nothing) cannot be judged: it is not refused, and the
check names it so that someone reviews it.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

from layer_builder.errors import ConfigurationError, LicenseDeniedError
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.model.licenses import (
    DistributionLicense,
    normalise_expression,
    parse_expression,
    read_licenses,
)

logger = logging.getLogger(__name__)

_IDENTIFIER_OR_PATTERN = re.compile(r"[A-Za-z0-9.+:*?\-]+")


def _denied_entry(value: str) -> str:
    """One ``--deny-license`` value, checked; SPDX aliases normalised (``GPL-3.0+``)."""
    text = value.strip()
    if not _IDENTIFIER_OR_PATTERN.fullmatch(text):
        raise ConfigurationError(
            f"invalid --deny-license {value!r}: give one SPDX licence identifier or pattern "
            f"per flag (e.g. --deny-license GPL-3.0-only --deny-license 'AGPL-*')"
        )
    if "*" in text or "?" in text:
        return text
    return normalise_expression(text) or text


def _entries(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_denied_entry(v) for v in values))


@attrs.frozen
class LicensePolicy:
    """The licences an operator refuses to ship (``--deny-license``, ``deny_licenses``)."""

    denied: tuple[str, ...] = attrs.field(default=(), converter=_entries)

    def matches(self, identifier: str) -> list[str]:
        """The denied entries that match one SPDX licence identifier."""
        key = identifier.lower()
        return [d for d in self.denied if fnmatch.fnmatchcase(key, d.lower())]

    def refused_by(self, licence: DistributionLicense) -> list[str]:
        """The denied entries that refuse ``licence`` (empty: it may ship)."""
        if not self.denied or licence.expression is None:
            return []
        return sorted(set(self._refused(parse_expression(licence.expression))))

    def _refused(self, node: object) -> list[str]:
        if isinstance(node, LicenseWithExceptionSymbol):
            return self.matches(node.license_symbol.key)
        if isinstance(node, LicenseSymbol):
            return self.matches(node.key)
        if isinstance(node, AND):
            return [entry for arg in node.args for entry in self._refused(arg)]
        if isinstance(node, OR):
            each = [self._refused(arg) for arg in node.args]
            return [entry for found in each for entry in found] if all(each) else []
        raise TypeError(f"unexpected node {node!r} in a licence expression")  # pragma: no cover

    def check(self, licences: Sequence[DistributionLicense]) -> tuple[DistributionLicense, ...]:
        """Raise ``LicenseDeniedError`` naming every distribution refused; return those that
        cannot be judged (no SPDX expression), for the caller to point out."""
        if not self.denied:
            return ()
        refused = [(lic, self.refused_by(lic)) for lic in licences]
        refused = [(lic, entries) for lic, entries in refused if entries]
        if refused:
            names = "; ".join(
                f"{lic.name} {lic.version} is {lic.expression} (from {lic.source}), refused by "
                f"--deny-license {' '.join(entries)}"
                for lic, entries in refused
            )
            raise LicenseDeniedError(
                f"{names}: remove it from the project's dependencies, leave it out with "
                f"--exclude {refused[0][0].name} if the function does not import it, or stop "
                f"denying that licence"
            )
        return tuple(lic for lic in licences if lic.expression is None)


def checked_licenses(
    dir_python: Path, distributions: Sequence[InstalledDistribution], denied: Iterable[str] = ()
) -> tuple[DistributionLicense, ...]:
    """The licence of each distribution, after refusing any that ``denied`` refuses; those
    that cannot be judged are named in a warning."""
    licences = read_licenses(dir_python, distributions)
    unjudged = LicensePolicy(tuple(denied)).check(licences)
    if unjudged:
        logger.warning(
            "--deny-license cannot judge %s: their metadata gives no SPDX licence; review them "
            "in the licence report",
            ", ".join(f"{lic.name} {lic.version} ({lic.label})" for lic in unjudged),
        )
    return licences
