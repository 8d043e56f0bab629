"""The licence a distribution declares, from each place core metadata may say it."""

from __future__ import annotations

import pytest

from layer_builder.model.licenses import (
    DistributionLicense,
    license_from_metadata,
    normalise_expression,
)


def _metadata(*headers: str) -> str:
    return "\n".join(["Metadata-Version: 2.4", "Name: demo", "Version: 1.0", *headers]) + "\n\n"


def _licence(*headers: str) -> DistributionLicense:
    return license_from_metadata("demo", "1.0", _metadata(*headers))


def test_license_expression_wins_and_is_normalised() -> None:
    found = _licence(
        "License-Expression: mit or apache-2.0",
        "License: BSD",
        "Classifier: License :: OSI Approved :: BSD License",
    )
    assert found == DistributionLicense(
        "demo", "1.0", "MIT OR Apache-2.0", "", "License-Expression"
    )


def test_license_field_counts_when_it_is_spdx() -> None:
    assert _licence("License: Apache-2.0") == DistributionLicense(
        "demo", "1.0", "Apache-2.0", "", "License"
    )
    assert _licence("License: GPL-3.0+").expression == "GPL-3.0-or-later"
    assert _licence("License: LicenseRef-Acme-EULA").expression == "LicenseRef-Acme-EULA"


def test_classifiers_give_the_expression_and_free_text_is_kept() -> None:
    found = _licence(
        "License: Apache 2.0",
        "Classifier: License :: OSI Approved :: Apache Software License",
        "Classifier: Programming Language :: Python :: 3",
    )
    assert found == DistributionLicense("demo", "1.0", "Apache-2.0", "Apache 2.0", "classifiers")


def test_several_licence_classifiers_are_a_choice() -> None:
    found = _licence(
        "Classifier: License :: OSI Approved :: MIT License",
        "Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
    )
    assert found.expression == "GPL-3.0-only OR MIT"
    assert found.source == "classifiers"


def test_a_classifier_naming_no_variant_stays_text() -> None:
    found = _licence("Classifier: License :: OSI Approved :: BSD License")
    assert found == DistributionLicense("demo", "1.0", None, "BSD License", "classifiers")
    assert found.label == "BSD License"
    free = _licence("License: BSD", "Classifier: License :: OSI Approved :: BSD License")
    assert free == DistributionLicense("demo", "1.0", None, "BSD", "License")


def test_a_whole_licence_in_license_becomes_its_first_line() -> None:
    metadata = (
        "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
        "License: Copyright (c) 2024 Acme\n        \n        Permission is hereby granted\n\n"
    )
    found = license_from_metadata("demo", "1.0", metadata)
    assert found.expression is None
    assert found.text == "Copyright (c) 2024 Acme"


@pytest.mark.parametrize("value", ["", "UNKNOWN", "none"])
def test_no_licence_declared(value: str) -> None:
    found = _licence(f"License: {value}")
    assert found == DistributionLicense("demo", "1.0", None, "", "")
    assert found.label == "unknown"


@pytest.mark.parametrize(
    "text", ["BSD", "Apache 2.0", "MIT License", "(MIT", "Classpath-exception-2.0"]
)
def test_not_spdx(text: str) -> None:
    assert normalise_expression(text) is None
