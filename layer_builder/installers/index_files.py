"""The files a package index lists for a project (PEP 503 pages): names, hashes, versions.

Asked only after an installer failed, to say exactly what exists and why it does not fit
the target; never on the way of a build that succeeds.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Sequence
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import attrs
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from layer_builder.installers.redaction import redact_url

#: How long one question to the index may take.
ASK_TIMEOUT_SECONDS = 10.0

_ANCHOR = re.compile(r"<a\s(?P<attributes>[^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""(?P<key>[\w-]+)\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')""")


@attrs.frozen
class IndexFile:
    """One file of a project on an index."""

    filename: str
    version: Version
    #: The wheel's tags; empty for a source distribution.
    tags: frozenset[Tag] = frozenset()
    sha256: str | None = None
    yanked: bool = False
    #: Where to download it (absolute; without the ``#sha256=`` fragment).
    url: str = ""

    @property
    def is_wheel(self) -> bool:
        """Whether the file is a wheel (else a source distribution)."""
        return bool(self.tags)


@attrs.frozen
class ProjectPage:
    """What an index answered for a project: the HTTP status (None: no answer) and its files."""

    index: str  # masked
    status: int | None
    files: tuple[IndexFile, ...] = ()


def parse_files(page: str, project: str, page_url: str = "") -> tuple[IndexFile, ...]:
    """The files of ``project`` that a PEP 503 page (at ``page_url``) links to."""
    name = canonicalize_name(project)
    found = []
    for anchor in _ANCHOR.finditer(page):
        values = {
            m["key"].lower(): html.unescape(m["dq"] if m["dq"] is not None else m["sq"] or "")
            for m in _ATTRIBUTE.finditer(anchor["attributes"])
        }
        href, _, fragment = values.get("href", "").partition("#")
        filename = unquote(href.rsplit("/", 1)[-1])
        try:
            if filename.endswith(".whl"):
                project_name, version, _, tags = parse_wheel_filename(filename)
            else:
                project_name, version = parse_sdist_filename(filename)
                tags = frozenset()
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if project_name != name:
            continue
        sha256 = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
        yanked = "data-yanked" in values
        url = urljoin(page_url, href) if page_url else href
        found.append(IndexFile(filename, version, frozenset(tags), sha256, yanked, url))
    return tuple(found)


def ask_project(index_url: str, project: str | NormalizedName) -> ProjectPage:
    """GET ``<index_url>/<project>/`` with the URL's credentials as basic auth."""
    import ssl
    import urllib.error
    import urllib.request

    parts = urlsplit(index_url)
    userinfo, _, host = parts.netloc.rpartition("@")
    path = parts.path.rstrip("/") + f"/{canonicalize_name(project)}/"
    page = urlunsplit(parts._replace(netloc=host, path=path, query="", fragment=""))
    request = urllib.request.Request(page, headers={"Accept": "text/html"})
    if userinfo:
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        # Not sent on to wherever a redirect points.
        request.add_unredirected_header("Authorization", f"Basic {token}")
    masked = redact_url(index_url)
    try:
        # pip's own certificate bundle, so that an index pip can reach can be asked too.
        context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
        with urllib.request.urlopen(request, timeout=ASK_TIMEOUT_SECONDS, context=context) as r:
            body = r.read(50_000_000).decode("utf-8", "replace")
            status = int(r.status)
    except urllib.error.HTTPError as exc:
        return ProjectPage(masked, exc.code)
    except (OSError, ValueError):  # unreachable, TLS, a bad URL: no verdict
        return ProjectPage(masked, None)
    return ProjectPage(masked, status, parse_files(body, project, page))


def files_of(index_urls: Sequence[str], project: str) -> tuple[IndexFile, ...] | None:
    """Every file the indexes list for ``project``; None when no index answered."""
    pages = [ask_project(url, project) for url in index_urls]
    if not any(page.status == 200 for page in pages):
        return None
    return tuple(f for page in pages for f in page.files)
