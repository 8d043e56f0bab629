"""What a subprocess must never show: the one place secrets are found and masked.

``run_command`` masks them in the logged command line, in each logged output line and in
``InstallerFailedError``; the installers only hand over what they know to be secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "****"

#: Shorter strings are not masked: replacing every ``ab`` in a log would hide nothing secret
#: (a two-character password is no secret) and garble everything else.
MIN_SECRET_LENGTH = 3

# ``https://user:token@host`` anywhere in a value (also in space-separated lists).
_URL_WITH_USERINFO = re.compile(r"https?://[^\s/@]+@[^\s]+", re.IGNORECASE)
# Variables whose value is a secret whatever it looks like (POETRY_HTTP_BASIC_X_PASSWORD,
# UV_INDEX_X_PASSWORD, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, ...); a short value of such
# a name is more likely a flag (``UV_NO_TOKEN=1``) than a secret.
_SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|CREDENTIAL", re.IGNORECASE)
_MIN_NAMED_SECRET_LENGTH = 8


def redact_url(url: str) -> str:
    """``https://user:token@host/simple`` -> ``https://****@host/simple``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def url_secrets(url: str) -> tuple[str, ...]:
    """The credential parts of ``url``: ``user:token`` and the token, raw and unquoted (a
    lone ``https://TOKEN@host`` is all secret; of ``user:password``, the password)."""
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return ()
    userinfo = netloc.rsplit("@", 1)[0]
    secret = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
    return tuple(dict.fromkeys((userinfo, unquote(userinfo), secret, unquote(secret))))


def text_secrets(text: str) -> tuple[str, ...]:
    """The credentials of every ``http(s)://user:token@host`` URL in ``text``."""
    return tuple(s for m in _URL_WITH_USERINFO.finditer(text) for s in url_secrets(m.group(0)))


def environment_secrets(environment: Mapping[str, str]) -> tuple[str, ...]:
    """The secrets an environment hands a child: URL credentials in any variable, and the
    values of variables named as secrets."""
    found: list[str] = []
    for name, value in environment.items():
        found += text_secrets(value)
        if _SECRET_NAME.search(name) and len(value) >= _MIN_NAMED_SECRET_LENGTH:
            found.append(value)
    return tuple(found)


def secrets_to_mask(secrets: Iterable[str]) -> tuple[str, ...]:
    """``secrets`` without duplicates or too-short strings, longest first (so that
    ``user:token`` is masked whole before ``token``)."""
    kept = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
    return tuple(sorted(kept, key=lambda s: (-len(s), s)))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``****``."""
    for secret in secrets_to_mask(secrets):
        text = text.replace(secret, MASK)
    return text
