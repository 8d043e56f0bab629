"""``installers.redaction``: which parts of a URL are credentials, masked in a text of any
manifest format with nothing else of it changed."""

from __future__ import annotations

import pytest

from layer_builder.installers.redaction import redact_url, redact_urls, text_secrets, url_secrets


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://user:p%40ss@host/simple/", "https://****@host/simple/"),
        ("https://t0ken-only@host/simple", "https://****@host/simple"),
        ("https://host/simple/?token=abc&page=2#frag", "https://host/simple/?token=****&page=2#frag"),
        ("https://b.s3.amazonaws.com/w.whl?X-Amz-Signature=ab12&X-Amz-Security-Token=cd34&x=1",
         "https://b.s3.amazonaws.com/w.whl?X-Amz-Signature=****&X-Amz-Security-Token=****&x=1"),
        ("https://h/f?api_key=k1&client_secret=s1&password=p1&sig=s2&auth=a1&keep=v",
         "https://h/f?api_key=****&client_secret=****&password=****&sig=****&auth=****&keep=v"),
        # What names a secret without being one, and what is no secret, is kept.
        ("https://${INDEX_USER}:${INDEX_TOKEN}@host/simple", None),
        ("https://host/simple?token=${INDEX_TOKEN}", None),
        ("git+ssh://git@github.com/org/repo.git@v1", None),
        ("https://host/simple/?", None),
        ("http://[::1", None),
        ("host/simple", None),
    ],
)  # fmt: skip
def test_redact_url(url: str, masked: str | None) -> None:
    assert redact_url(url) == (masked or url)


def test_url_secrets_name_the_masked_values() -> None:
    assert url_secrets("https://user:p%40ss@host/s?token=t%2Bk&x=1") == (
        "user:p%40ss", "user:p@ss", "p%40ss", "p@ss", "t%2Bk", "t+k",
    )  # fmt: skip
    assert url_secrets("git+ssh://git@host/r") == ()
    assert text_secrets("pip --index-url https://h/s?token=abcdef ok") == ("abcdef",)


def test_every_url_of_a_manifest_is_redacted_and_nothing_else() -> None:
    text = (
        "# comment with no URL: key=value\n"
        "--index-url https://user:secret@host/simple\n"
        "--extra-index-url=https://host/other/?token=abc123\n"
        "pkg @ https://u:p@files.example/pkg-1.0-py3-none-any.whl \\\n"
        "    --hash=sha256:00ff\n"
        'source = { registry = "https://user:secret@host/simple" }\n'
        '{"url": "https://host/simple?access_key=zz9", "verify_ssl": true}\n'
    )
    assert redact_urls(text) == (
        "# comment with no URL: key=value\n"
        "--index-url https://****@host/simple\n"
        "--extra-index-url=https://host/other/?token=****\n"
        "pkg @ https://****@files.example/pkg-1.0-py3-none-any.whl \\\n"
        "    --hash=sha256:00ff\n"
        'source = { registry = "https://****@host/simple" }\n'
        '{"url": "https://host/simple?access_key=****", "verify_ssl": true}\n'
    )
    plain = "--index-url https://host/simple\nsix==1.16.0\n"
    assert redact_urls(plain) == plain
