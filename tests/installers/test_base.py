"""IndexOptions and InstallOptions: where credentials may go, and what options mean."""

from __future__ import annotations

import pytest

from layer_builder.errors import ConfigurationError
from layer_builder.installers import IndexOptions, InstallOptions

URL = "https://builder:p%40ss-w0rd@pypi.example.com/simple/"


def test_credentials_only_in_the_environment_and_redacted_elsewhere() -> None:
    index = IndexOptions(URL, extra_index_urls=["https://t0ken-only@extra.example.com/simple/"])
    assert "p%40ss" not in repr(index) and "t0ken" not in repr(index)
    assert index.pip_environment() == {
        "PIP_INDEX_URL": URL,
        "PIP_EXTRA_INDEX_URL": "https://t0ken-only@extra.example.com/simple/",
    }
    assert index.uv_environment() == {
        "UV_DEFAULT_INDEX": URL,
        "UV_INDEX": "https://t0ken-only@extra.example.com/simple/",
    }
    text = "GET https://builder:p%40ss-w0rd@pypi.example.com (password p@ss-w0rd) t0ken-only"
    redacted = index.redact(text)
    assert "p%40ss-w0rd" not in redacted and "p@ss-w0rd" not in redacted
    assert "t0ken-only" not in redacted
    assert "GET https://****@pypi.example.com" in redacted


def test_index_from_pip_environment_and_merging() -> None:
    found = IndexOptions.from_environment(
        {"PIP_INDEX_URL": URL, "PIP_EXTRA_INDEX_URL": "https://a/simple https://b/simple"}
    )
    assert found.index_url == URL
    assert found.extra_index_urls == ("https://a/simple", "https://b/simple")
    assert not IndexOptions.from_environment({}).is_set
    given = IndexOptions("https://given/simple/")
    merged = given.merged_over(found)
    assert merged.index_url == "https://given/simple/"
    assert merged.extra_index_urls == found.extra_index_urls


def test_install_options_are_normalised() -> None:
    options = InstallOptions(extras=["yaml", "yaml"], groups="runtime", allow_source=["Py_YAML"])
    assert options.extras == ("yaml",)
    assert options.groups == ("runtime",)
    assert options.allow_source == ("py-yaml",)
    assert options.fingerprint_fields() == {
        "extras": ["yaml"],
        "groups": ["runtime"],
        "allow_source": ["py-yaml"],
    }


def test_install_options_take_any_collection_of_names() -> None:
    assert InstallOptions(extras={"yaml", "aws"}).extras == ("aws", "yaml")
    assert InstallOptions(groups="dev").groups == ("dev",)
    assert InstallOptions(extras=("b", "a", "b")).extras == ("a", "b")


def test_install_options_refuse_what_is_not_names_in_one_line() -> None:
    with pytest.raises(ConfigurationError) as caught:
        InstallOptions(extras=3)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "expected names (a string or a list of strings), got 3: e.g. "
        'extras=["aws", "yaml"] (or --extra NAME, repeatable)'
    )
