"""The installer interface and the package-index options every installer shares."""

from __future__ import annotations

import abc
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
from packaging.utils import canonicalize_name

from layer_builder.errors import ConfigurationError
from layer_builder.installers.redaction import redact, redact_url, secrets_to_mask, url_secrets
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget


def _redacted_repr(urls: object) -> str:
    if isinstance(urls, str):
        return repr(redact_url(urls))
    if isinstance(urls, tuple):
        return repr(tuple(redact_url(u) for u in urls))
    return repr(urls)


def _url_tuple(urls: Iterable[str]) -> tuple[str, ...]:
    return (urls,) if isinstance(urls, str) else tuple(urls)


@attrs.frozen
class IndexOptions:
    """Where installers look for packages. URLs may hold credentials: they travel only
    through the installer's environment, never its command line, and print redacted."""

    index_url: str | None = attrs.field(default=None, repr=_redacted_repr)
    extra_index_urls: tuple[str, ...] = attrs.field(
        default=(), converter=_url_tuple, repr=_redacted_repr
    )

    @property
    def is_set(self) -> bool:
        """Whether an index or extra index is given."""
        return bool(self.index_url or self.extra_index_urls)

    def pip_environment(self) -> dict[str, str]:
        """The ``PIP_*`` variables handing these indexes to a pip or uv child (credentials too)."""
        env = {}
        if self.index_url:
            env["PIP_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            env["PIP_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        return env

    def uv_environment(self) -> dict[str, str]:
        """uv 0.13 reads ``UV_DEFAULT_INDEX`` and ``UV_INDEX`` (space-separated); they win
        over ``[[tool.uv.index]]`` in pyproject.toml, as a command-line flag would."""
        env = {}
        if self.index_url:
            env["UV_DEFAULT_INDEX"] = self.index_url
        if self.extra_index_urls:
            env["UV_INDEX"] = " ".join(self.extra_index_urls)
        return env

    @property
    def urls(self) -> tuple[str, ...]:
        """Every index URL, the main one first."""
        return tuple(u for u in (self.index_url, *self.extra_index_urls) if u)

    def secrets(self) -> tuple[str, ...]:
        """The credential parts of the URLs (``user:token``, ``token``), to hand to
        ``run_command``, which masks them."""
        return secrets_to_mask(s for url in self.urls for s in url_secrets(url))

    def redact(self, text: str) -> str:
        """``text`` with every credential of these URLs replaced by ``****``."""
        return redact(text, self.secrets())

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> IndexOptions:
        """The index a user's shell already points pip at (``PIP_INDEX_URL``,
        ``PIP_EXTRA_INDEX_URL``), so that uv installs a requirements file from the same place."""
        environ = os.environ if environ is None else environ
        extra = environ.get("PIP_EXTRA_INDEX_URL", "").split()
        return cls(index_url=environ.get("PIP_INDEX_URL") or None, extra_index_urls=extra)

    def merged_over(self, other: IndexOptions) -> IndexOptions:
        """These options, with ``other`` filling what is unset."""
        return IndexOptions(
            index_url=self.index_url or other.index_url,
            extra_index_urls=self.extra_index_urls or other.extra_index_urls,
        )


def _names(values: object) -> tuple[str, ...]:
    """One name or any collection of names, sorted and without duplicates."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable) or not all(isinstance(v, str) for v in values):
        raise ConfigurationError(
            f"expected names (a string or a list of strings), got {values!r}: e.g. "
            f'extras=["aws", "yaml"] (or --extra NAME, repeatable)'
        )
    return tuple(sorted(set(values)))


def _canonical_names(values: object) -> tuple[str, ...]:
    return tuple(sorted({canonicalize_name(n) for n in _names(values)}))


@attrs.frozen
class InstallOptions:
    """What to install beyond the locked main dependencies.

    ``allow_source`` names packages that may be built from a source distribution when
    they publish no wheel; the built wheel must still be pure Python (checked after the
    install), since it is built by the host's Python.
    """

    extras: tuple[str, ...] = attrs.field(default=(), converter=_names)
    groups: tuple[str, ...] = attrs.field(default=(), converter=_names)
    allow_source: tuple[str, ...] = attrs.field(default=(), converter=_canonical_names)

    def fingerprint_fields(self) -> dict[str, list[str]]:
        """What about these options changes the tree, for the fingerprint."""
        return {
            "extras": list(self.extras),
            "groups": list(self.groups),
            "allow_source": list(self.allow_source),
        }


class Installer(abc.ABC):
    """Installs a manifest's dependencies into a fresh folder, for a layer target."""

    #: A short name for logs and results, e.g. ``"pip"``.
    name: str = ""
    #: Whether it installs inside the target's own environment (a build container), where
    #: a wheel built from source is right for the target.
    builds_natively: bool = False
    #: Extras and groups installed beyond the main dependencies; they change the layer.
    options: InstallOptions = InstallOptions()
    #: Where packages come from (none given: the installer's default and its environment).
    index: IndexOptions = IndexOptions()

    def fingerprint_fields(self) -> dict[str, object]:
        """What about this installer changes the tree it makes (for the build cache)."""
        return {"installer": self.name}

    @abc.abstractmethod
    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        """Fill the empty folder ``dir_target`` with the manifest's dependencies."""
