"""``--deny-license``: which licence expressions a set of denied identifiers refuses."""

from __future__ import annotations

import pytest

from layer_builder.errors import ConfigurationError, LicenseDeniedError
from layer_builder.model.license_policy import LicensePolicy
from layer_builder.model.licenses import DistributionLicense


def _lic(expression: str | None, name: str = "demo", text: str = "") -> DistributionLicense:
    return DistributionLicense(name, "1.0", expression, text, "License-Expression")


@pytest.mark.parametrize(
    ("expression", "denied", "refused_by"),
    [
        ("MIT", ["mit"], ["MIT"]),  # an identifier is normalised to its SPDX spelling
        ("GPL-3.0-only", ["gpl-*"], ["gpl-*"]),  # patterns compare case-insensitively
        ("GPL-3.0-only", ["GPL-*"], ["GPL-*"]),
        ("LGPL-3.0-only", ["GPL-*"], []),  # a pattern matches the whole identifier
        ("MIT OR GPL-3.0-only", ["GPL-*"], []),  # the user may take MIT
        ("MIT AND GPL-3.0-only", ["GPL-*"], ["GPL-*"]),  # both must be accepted
        ("(MIT OR GPL-2.0-only) AND Apache-2.0", ["GPL-*"], []),
        ("(MIT OR GPL-2.0-only) AND Apache-2.0", ["GPL-*", "MIT"], ["GPL-*", "MIT"]),
        ("(MIT OR GPL-2.0-only) AND Apache-2.0", ["Apache-2.0"], ["Apache-2.0"]),
        ("GPL-2.0-only WITH Classpath-exception-2.0", ["GPL-2.0-only"], ["GPL-2.0-only"]),
        ("GPL-3.0-or-later", ["GPL-3.0+"], ["GPL-3.0-or-later"]),  # SPDX alias normalised
        ("LicenseRef-Acme-EULA", ["LicenseRef-*"], ["LicenseRef-*"]),
    ],
)
def test_refused_when_every_alternative_has_a_denied_licence(
    expression: str, denied: list[str], refused_by: list[str]
) -> None:
    assert LicensePolicy(tuple(denied)).refused_by(_lic(expression)) == sorted(refused_by)


def test_no_expression_cannot_be_refused_and_is_returned_for_review() -> None:
    policy = LicensePolicy(("BSD-*",))
    unjudged = _lic(None, "fastcalc", "BSD License")
    assert policy.check([_lic("MIT"), unjudged]) == (unjudged,)
    assert LicensePolicy(()).check([unjudged]) == ()


def test_refusal_names_each_distribution_its_licence_and_the_fix() -> None:
    policy = LicensePolicy(("AGPL-*", "GPL-*"))
    licences = [_lic("MIT"), _lic("GPL-3.0-or-later", "tinygpl"), _lic("AGPL-3.0-only", "x")]
    with pytest.raises(LicenseDeniedError) as caught:
        policy.check(licences)
    assert str(caught.value) == (
        "tinygpl 1.0 is GPL-3.0-or-later (from License-Expression), refused by --deny-license "
        "GPL-*; x 1.0 is AGPL-3.0-only (from License-Expression), refused by --deny-license "
        "AGPL-*: remove it from the project's dependencies, leave it out with --exclude tinygpl "
        "if the function does not import it, or stop denying that licence"
    )
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", ["GPL-3.0-only OR MIT", "(GPL)", "", "GPL 3"])
def test_one_identifier_or_pattern_per_flag(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        LicensePolicy((value,))
    assert str(caught.value) == (
        f"invalid --deny-license {value!r}: give one SPDX licence identifier or pattern per "
        f"flag (e.g. --deny-license GPL-3.0-only --deny-license 'AGPL-*')"
    )
