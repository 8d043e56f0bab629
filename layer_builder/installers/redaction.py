"""What a subprocess must never show: the one place secrets are found and masked.

``run_command`` masks them in the logged command line, in each logged output line and in
``InstallerFailedError``; the installers only hand over what they know to be secret. The
publish step masks the credentials of a manifest's URLs (``redact_urls``) in every copy of
it stored in S3.

A URL's credentials are its user-info (``https://user:token@host``) and the values of its
query parameters named as secrets (``?token=``, ``api_key=``, ``X-Amz-Signature=``...).
A ``${NAME}`` reference, which pip and uv replace by the environment variable, names a
secret without being one, and an ``ssh`` user name (``git+ssh://git@host``) is none either:
both are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

MASK = "****"

#: Shorter strings are not masked: replacing every ``ab`` in a log would hide nothing secret
#: (a two-character password is no secret) and garble everything else.
MIN_SECRET_LENGTH = 3

# A URL anywhere in a text: a value, a requirements line, a TOML or JSON string (a quote or
# a space ends it).
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)
# scheme://, the authority (user-info@host:port), then path, query and fragment.
_URL_PARTS = re.compile(
    r"(?P<scheme>[^:]+://)(?P<netloc>[^/?#]*)(?P<path>[^?#]*)(?P<tail>.*)", re.S
)
# Query parameters whose value is a credential (``token``, ``api_key``, ``client_secret``,
# ``password``, ``X-Amz-Signature``, ``X-Amz-Security-Token``, an Azure SAS ``sig``...).
_SECRET_PARAMETER = re.compile(
    r"token|key|secret|passw(?:or)?d|signature|credential|^sig$|^auth$", re.IGNORECASE
)
# Only ``${NAME}`` references (and the ``:`` between user and password): pip and uv expand
# them from the environment, so the text holds no secret.
_ONLY_REFERENCES = re.compile(r"(?:\$\{[A-Z0-9_]+\}|:)+")
# Variables whose value is a secret whatever it looks like (POETRY_HTTP_BASIC_X_PASSWORD,
# UV_INDEX_X_PASSWORD, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, ...); a short value of such
# a name is more likely a flag (``UV_NO_TOKEN=1``) than a secret.
_SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|CREDENTIAL", re.IGNORECASE)
_MIN_NAMED_SECRET_LENGTH = 8


def _secret_userinfo(scheme: str, netloc: str) -> str | None:
    """The user-info of ``netloc`` when it is a credential (None: none, or one to keep)."""
    if "@" not in netloc:
        return None
    userinfo = netloc.rsplit("@", 1)[0]
    if _ONLY_REFERENCES.fullmatch(userinfo):
        return None
    if scheme.lower().removesuffix("://").endswith("ssh") and ":" not in userinfo:
        return None  # ssh authenticates with keys: the user name (``git``) is no secret
    return userinfo


def _query_fields(tail: str) -> tuple[str, str, list[str]]:
    """``?a=1&b=2#frag`` -> ``("?", "#frag", ["a=1", "b=2"])`` (nothing decoded)."""
    query, hash_, fragment = tail.partition("#")
    if not query.startswith("?"):
        return "", tail, []
    return "?", hash_ + fragment, query[1:].split("&")


def _secret_value(field: str) -> str | None:
    """The value of a ``name=value`` query field whose name says it is a credential."""
    name, equals, value = field.partition("=")
    if not equals or not value or _ONLY_REFERENCES.fullmatch(value):
        return None
    return value if _SECRET_PARAMETER.search(unquote(name)) else None


def redact_url(url: str) -> str:
    """``https://user:token@host/simple?token=abc`` -> ``https://****@host/simple?token=****``
    (the user-info whole, and each secret query value); nothing else of ``url`` changes."""
    parts = _URL_PARTS.fullmatch(url)
    if parts is None:
        return url
    scheme, netloc, path, tail = parts.group("scheme", "netloc", "path", "tail")
    if _secret_userinfo(scheme, netloc) is not None:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    question, after, fields = _query_fields(tail)
    if fields:
        masked = [f"{f.partition('=')[0]}={MASK}" if _secret_value(f) else f for f in fields]
        tail = question + "&".join(masked) + after
    return f"{scheme}{netloc}{path}{tail}"


def redact_urls(text: str) -> str:
    """``text`` with every URL in it passed through ``redact_url`` (for a manifest: a
    requirements file, a lock, whatever its format)."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)


def url_secrets(url: str) -> tuple[str, ...]:
    """The credential parts of ``url``: ``user:token`` and the token, raw and unquoted (a
    lone ``https://TOKEN@host`` is all secret; of ``user:password``, the password), and the
    value of each query parameter named as a secret."""
    parts = _URL_PARTS.fullmatch(url)
    if parts is None:
        return ()
    found: list[str] = []
    userinfo = _secret_userinfo(parts["scheme"], parts["netloc"])
    if userinfo is not None:
        secret = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
        found += [userinfo, unquote(userinfo), secret, unquote(secret)]
    for field in _query_fields(parts["tail"])[2]:
        value = _secret_value(field)
        if value is not None:
            found += [value, unquote(value)]
    return tuple(dict.fromkeys(found))


def text_secrets(text: str) -> tuple[str, ...]:
    """The credentials of every URL in ``text`` (see ``url_secrets``)."""
    return tuple(s for m in _URL.finditer(text) for s in url_secrets(m.group(0)))


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
