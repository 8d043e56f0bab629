"""The installer interface and the package-index options every installer shares."""

from __future__ import annotations

import abc
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import attrs

from layer_builder.manifest import Manifest
from layer_builder.target import LayerTarget


def redact_url(url: str) -> str:
    """``https://user:token@host/simple`` -> ``https://****@host/simple``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"****@{host}"))


def _redacted_repr(urls: object) -> str:
    if isinstance(urls, str):
        return repr(redact_url(urls))
    if isinstance(urls, tuple):
        return repr(tuple(redact_url(u) for u in urls))
    return repr(urls)


@attrs.frozen
class IndexOptions:
    """Where installers look for packages. URLs may hold credentials: they travel only
    through the installer's environment, never its command line, and print redacted."""

    index_url: str | None = attrs.field(default=None, repr=_redacted_repr)
    extra_index_urls: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, repr=_redacted_repr
    )

    def pip_environment(self) -> dict[str, str]:
        env = {}
        if self.index_url:
            env["PIP_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            env["PIP_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        return env


class Installer(abc.ABC):
    """Installs a manifest's dependencies into a fresh folder, for a layer target."""

    #: A short name for logs and results, e.g. ``"pip"``.
    name: str = ""

    @abc.abstractmethod
    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Fill the empty folder ``dir_target`` with the manifest's dependencies."""
