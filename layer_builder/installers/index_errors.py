"""Why an installer found nothing: the index refused the credentials, the package (or the
pinned version) is not in it, or else no wheel matches the target.

uv says which in its output. pip says so only for wrong credentials answered with a 401;
for a 403, a 401 without credentials, a missing package and a package without a matching
wheel it prints the same "from versions: none". For pip, each index is then asked for the
project's page (one GET, with the URL's credentials) to tell them apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    canonicalize_name,
)
from packaging.version import Version

from layer_builder.errors import (
    BuildError,
    IndexAuthError,
    IndexUnreachableError,
    PackageNotFoundError,
)
from layer_builder.installers.redaction import redact_url

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
# uv 0.13: "hint: An index URL (URL) could not be queried due to a lack of valid
# authentication credentials (401 Unauthorized)" / "An index (URL) returned a 403 Forbidden".
_UV_REFUSED = re.compile(
    r"index(?: URL)? \((?P<url>[^)\s]+)\) (?:could not be queried due to a lack of valid "
    r"authentication credentials \((?P<unauthorized>\d{3})|returned a (?P<forbidden>\d{3}) )"
)
# uv 0.13: "Failed to fetch: `URL`" ... "cause: dns error" (every cause on its own line).
_UV_UNREACHABLE = re.compile(r"Failed to fetch: `?(?P<url>[^`\s]+)`?.*?error sending request")
_UV_CAUSE = re.compile(r"cause: (?P<cause>[^:]+?)(?= cause:|$)")
_UV_MISSING = re.compile(rf"Because (?P<name>{_NAME}) was not found in the package registry")
_UV_NO_VERSION = re.compile(rf"Because there is no version of (?P<requirement>{_NAME}\S*)")
# pip 26: "WARNING: 401 Error, Credentials not correct for URL".
_PIP_REFUSED = re.compile(r"(?P<status>40[13]) Error, Credentials not correct for (?P<url>\S+)")
_PIP_NO_MATCH = re.compile(r"No matching distribution found for (?P<requirement>\S+)")
_HREF = re.compile(r"""href=["'](?P<href>[^"']+)["']""", re.IGNORECASE)


def describe_indexes(urls: Sequence[str]) -> str:
    """``the package index https://****@host/simple/`` (credentials masked)."""
    if not urls:
        return "the package index"
    shown = ", ".join(redact_url(u) for u in urls)
    return f"the package index {shown}" if len(urls) == 1 else f"the package indexes {shown}"


def _requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def uv_failure(flat_output: str, index_urls: Sequence[str]) -> BuildError | None:
    """The refusal or the missing package uv's (whitespace-flattened) output reports."""
    missing = _UV_MISSING.search(flat_output)
    package = canonicalize_name(missing["name"]) if missing else ""
    refused = _UV_REFUSED.search(flat_output)
    if refused:
        status = int(refused["unauthorized"] or refused["forbidden"])
        return IndexAuthError(redact_url(refused["url"]), status, package)
    if missing:
        return PackageNotFoundError(package, describe_indexes(index_urls))
    unreachable = _UV_UNREACHABLE.search(flat_output)
    if unreachable:
        causes = _UV_CAUSE.findall(flat_output[unreachable.end() :])
        return IndexUnreachableError(redact_url(unreachable["url"]), causes[-1] if causes else "")
    no_version = _UV_NO_VERSION.search(flat_output)
    requirement = _requirement(no_version["requirement"]) if no_version else None
    if requirement is not None:
        name = canonicalize_name(requirement.name)
        return PackageNotFoundError(name, describe_indexes(index_urls), str(requirement))
    return None


def pip_failure(output: str, index_urls: Sequence[str]) -> BuildError | None:
    """The refusal or the missing package behind pip's "no matching distribution", asking
    the indexes when pip's output cannot tell; None when a wheel is what is missing."""
    no_match = _PIP_NO_MATCH.search(output)
    requirement = _requirement(no_match["requirement"]) if no_match else None
    package = canonicalize_name(requirement.name) if requirement else ""
    refused = _PIP_REFUSED.search(output)
    if refused:
        page = refused["url"]
        index = next((u for u in index_urls if _without_userinfo(u) in page), page)
        return IndexAuthError(redact_url(index), int(refused["status"]), package)
    if requirement is None or not index_urls:
        return None
    answers = [ask_index(url, package) for url in index_urls]
    for answer in answers:
        if answer.status in (401, 403):
            return IndexAuthError(answer.index, answer.status, package)
    if all(answer.status == 404 for answer in answers):
        return PackageNotFoundError(package, describe_indexes(index_urls))
    found = {v for answer in answers if answer.status == 200 for v in answer.versions}
    listed = any(answer.status == 200 for answer in answers)
    if listed and not any(requirement.specifier.contains(v, prereleases=True) for v in found):
        versions = [str(v) for v in sorted(found)]
        return PackageNotFoundError(
            package, describe_indexes(index_urls), str(requirement), versions
        )
    return None


@attrs.frozen
class IndexAnswer:
    """What an index said about one project: the HTTP status (None: no answer) and the
    versions its page lists."""

    index: str  # masked
    status: int | None
    versions: frozenset[Version] = frozenset()


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def ask_index(index_url: str, package: str) -> IndexAnswer:
    """GET ``<index_url>/<package>/`` (PEP 503) with the URL's credentials as basic auth."""
    # Only after an installer failed: not on every start of a command that installs nothing.
    from layer_builder.installers.index_files import ask_project

    page = ask_project(index_url, package)
    return IndexAnswer(page.index, page.status, frozenset(f.version for f in page.files))
