"""The value objects of the old API: build tool, index credentials, local and S3 layouts.

Each maps onto this project's own: ``LayerBuildToolEnum`` onto :class:`~layer_builder.Tool`,
``Credentials`` onto :class:`~layer_builder.IndexOptions`, and the two layouts onto
:class:`~layer_builder.LayerPathLayout` and :class:`~layer_builder.LayerS3Layout`, whose
paths and keys are the ones the old API named.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import quote, urlsplit, urlunsplit

import attrs

from layer_builder.errors import ConfigurationError, LayerBuilderError
from layer_builder.installers.base import IndexOptions
from layer_builder.model.layout import LayerPathLayout as NativePathLayout
from layer_builder.model.layout import LayerS3Layout as NativeS3Layout
from layer_builder.model.manifest import Tool
from layer_builder.model.target import RUNTIME_GLIBC, Architecture, LayerTarget

if TYPE_CHECKING:  # s3pathlib loads boto3: not for a script that only builds
    from layer_builder.model.s3path import S3Path


class LayerBuildToolEnum(str, enum.Enum):
    """The dependency tool a project locks with: ``pip``, ``poetry`` or ``uv``."""

    pip = "pip"
    poetry = "poetry"
    uv = "uv"

    @property
    def tool(self) -> Tool:
        """This project's :class:`~layer_builder.Tool` of the same name."""
        return Tool(self.value)


def tool_of(value: LayerBuildToolEnum | str) -> Tool:
    """``LayerBuildToolEnum.uv`` or ``"uv"`` -> ``Tool.UV``."""
    try:
        return LayerBuildToolEnum(value).tool
    except ValueError:
        raise ConfigurationError(
            f"unsupported layer_build_tool {value!r}: use LayerBuildToolEnum.pip, "
            f"LayerBuildToolEnum.poetry or LayerBuildToolEnum.uv"
        ) from None


def default_python_version() -> str:
    """The running interpreter's version when Lambda has that runtime, as the old local
    builds used the host's Python; else this project's default target (3.12)."""
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    return host if host in RUNTIME_GLIBC else LayerTarget().python_version


def make_target(
    py_ver_major: int | None = None, py_ver_minor: int | None = None, is_arm: bool | None = None
) -> LayerTarget:
    """The Lambda target of ``python{major}.{minor}`` on ``arm64`` or ``x86_64`` (the Python
    of ``default_python_version()`` when the version is not given)."""
    if py_ver_major is None and py_ver_minor is None:
        python = default_python_version()
    elif py_ver_major is None or py_ver_minor is None:
        raise ConfigurationError(
            f"give both py_ver_major and py_ver_minor (got {py_ver_major!r} and "
            f"{py_ver_minor!r}), e.g. py_ver_major=3, py_ver_minor=12"
        )
    else:
        python = f"{py_ver_major}.{py_ver_minor}"
    return LayerTarget(python, "arm64" if is_arm else "x86_64")


def target_named(runtime: object, architecture: object) -> LayerTarget | None:
    """The target ``python3.12``/``arm64`` name (read from a build record or an upload's
    labels); None when they name none, or one this version no longer builds for."""
    if not isinstance(runtime, str) or not isinstance(architecture, str):
        return None
    try:
        return LayerTarget(runtime.removeprefix("python"), cast("Architecture", architecture))
    except LayerBuilderError:
        return None


@attrs.frozen
class Credentials:
    """A private package index and the user name and password (or token) it wants.

    The index replaces the default one for every tool, as it did for pip; the credentials
    reach the installer only through its environment (never a file, a command line or
    ``os.environ``), and never appear in a log or ``repr``.
    """

    index_name: str
    index_url: str
    username: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)

    @property
    def index_url_with_credentials(self) -> str:
        """``https://user:password@host/.../simple/``: what the installer's environment gets."""
        text = self.index_url if "://" in self.index_url else f"https://{self.index_url}"
        parts = urlsplit(text)
        if not parts.hostname:
            raise ConfigurationError(
                f"invalid index_url {self.index_url!r} for index {self.index_name!r}: "
                f"expected https://host/path/simple/"
            )
        path = parts.path.rstrip("/")
        path = path if path.endswith("/simple") else f"{path}/simple"
        user = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}"
        host = parts.netloc.rpartition("@")[2]  # the port, brackets of IPv6, no credentials
        return urlunsplit((parts.scheme, f"{user}@{host}", f"{path}/", "", ""))

    def index_options(self) -> IndexOptions:
        """This index as the installers' :class:`~layer_builder.IndexOptions`."""
        return IndexOptions(index_url=self.index_url_with_credentials)


def index_options(credentials: Credentials | None) -> IndexOptions | None:
    """``credentials.index_options()``, or None (the installers' default index)."""
    return None if credentials is None else credentials.index_options()


def _resolved(path: Path | str) -> Path:
    return Path(path).resolve()


@attrs.frozen
class LayerPathLayout:
    """The local build tree of the project whose ``pyproject.toml`` is given.

    The paths the old API named are the same: ``build/lambda/layer/``, its ``layer.zip`` and
    ``artifacts/python/``. Those of its temporary copy of the project (``repo/``, a virtual
    environment, a build script for the container, a credentials file) are gone: the
    installers write straight into a fresh ``artifacts/python/``.
    """

    path_pyproject_toml: Path = attrs.field(converter=_resolved)

    @property
    def native(self) -> NativePathLayout:
        """This project's :class:`~layer_builder.LayerPathLayout` of the same tree."""
        return NativePathLayout(self.dir_project_root)

    @property
    def dir_project_root(self) -> Path:
        """The folder of ``pyproject.toml``."""
        return self.path_pyproject_toml.parent

    @property
    def dir_build_lambda(self) -> Path:
        """``build/lambda/``."""
        return self.native.dir_lambda

    @property
    def dir_build_lambda_layer(self) -> Path:
        """``build/lambda/layer/``."""
        return self.native.dir_build

    @property
    def path_build_lambda_layer_zip(self) -> Path:
        """``build/lambda/layer/layer.zip``."""
        return self.native.path_layer_zip

    @property
    def dir_artifacts(self) -> Path:
        """``build/lambda/layer/artifacts/``."""
        return self.native.dir_artifacts

    @property
    def dir_python(self) -> Path:
        """``build/lambda/layer/artifacts/python/``: what becomes ``python/`` in the zip."""
        return self.native.dir_python

    @property
    def path_requirements_txt(self) -> Path:
        """The project's ``requirements.txt``."""
        return self.dir_project_root / "requirements.txt"

    @property
    def path_poetry_lock(self) -> Path:
        """The project's ``poetry.lock``."""
        return self.dir_project_root / "poetry.lock"

    @property
    def path_uv_lock(self) -> Path:
        """The project's ``uv.lock``."""
        return self.dir_project_root / "uv.lock"

    def get_path_manifest(self, tool: LayerBuildToolEnum | str) -> Path:
        """The manifest of ``tool``: ``requirements.txt``, ``poetry.lock`` or ``uv.lock``."""
        return self.dir_project_root / tool_of(tool).manifest_filename


@attrs.frozen
class LayerS3Layout(NativeS3Layout):
    """The S3 keys under ``s3dir_lambda``, by the old API's names; being this project's
    :class:`~layer_builder.LayerS3Layout`, it also names the keys the old API did not write
    (``layer/zips/<sha256>.zip``, ``targets/``, the version records)."""

    @property
    def s3path_temp_layer_zip(self) -> S3Path:
        """``${s3dir_lambda}/layer/layer.zip``: the staged upload."""
        return self.s3path_layer_zip

    def get_s3dir_layer_version(self, layer_version: int) -> S3Path:
        """``${s3dir_lambda}/layer/000001/`` for version 1."""
        return self.s3dir_layer.joinpath(f"{layer_version:06d}").to_dir()

    def get_s3path_layer_requirements_txt(self, layer_version: int) -> S3Path:
        """``layer/000001/requirements.txt``: the manifest version 1 was published from."""
        return self.s3path_manifest_backup(layer_version, "requirements.txt")

    def get_s3path_layer_poetry_lock(self, layer_version: int) -> S3Path:
        """``layer/000001/poetry.lock``."""
        return self.s3path_manifest_backup(layer_version, "poetry.lock")

    def get_s3path_layer_uv_lock(self, layer_version: int) -> S3Path:
        """``layer/000001/uv.lock``."""
        return self.s3path_manifest_backup(layer_version, "uv.lock")

    @property
    def s3path_last_requirements_txt(self) -> S3Path:
        """``layer/last-requirements.txt``: the manifest of the newest version."""
        return self.s3path_last_manifest("requirements.txt")

    @property
    def s3path_last_poetry_lock(self) -> S3Path:
        """``layer/last-poetry.lock``."""
        return self.s3path_last_manifest("poetry.lock")

    @property
    def s3path_last_uv_lock(self) -> S3Path:
        """``layer/last-uv.lock``."""
        return self.s3path_last_manifest("uv.lock")
