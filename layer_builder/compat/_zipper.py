"""Step 2 of the old API: ``LambdaLayerZipper``, one ``PackageStep`` over the built tree.

The old packager shelled out to ``zip -r -9`` and left out top-level entries by file-name
prefix (``python/boto3*``). The package step writes the same ``build/lambda/layer/layer.zip``
itself, reproducibly (same dependencies, same bytes), and leaves out distributions by the
files their ``RECORD`` lists, so ``PyYAML``'s ``yaml/`` goes with it and ``pipdeptree`` no
longer goes with ``pip``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from layer_builder.compat._layouts import (
    LayerBuildToolEnum,
    LayerPathLayout,
    target_named,
    tool_of,
)
from layer_builder.compat._output import Printer, Reporter
from layer_builder.compat.errors import NothingBuiltError
from layer_builder.errors import MismatchedBuildError
from layer_builder.installers import (
    Installer,
    PipInstaller,
    PoetryInstaller,
    UvInstaller,
    UvPipInstaller,
)
from layer_builder.installers.container import ENGINES, ContainerInstaller
from layer_builder.model.distributions import find_distributions
from layer_builder.model.layout import LayerPathLayout as NativePathLayout
from layer_builder.model.manifest import Manifest
from layer_builder.steps.build import BuildResult, build_fingerprint, read_build_record
from layer_builder.steps.package.options import PackageOptions
from layer_builder.steps.package.step import PackageResult, PackageStep

#: What the old packager left out when given no list: what the Lambda runtime provides
#: (boto3, botocore, s3transfer, urllib3) and build and test tools. Followed as given: a
#: build tool a kept distribution requires is left out too, as it was (with a warning).
DEFAULT_IGNORE_PACKAGE_LIST: tuple[str, ...] = (
    "boto3",
    "botocore",
    "s3transfer",
    "urllib3",
    "setuptools",
    "pip",
    "wheel",
    "twine",
    "_pytest",
    "pytest",
)


def package_options(ignore_package_list: Sequence[str] | None) -> PackageOptions:
    """The package options leaving out ``ignore_package_list`` (None: the old default list),
    by distribution name; a trailing ``*`` (the old prefix match) is dropped."""
    names = DEFAULT_IGNORE_PACKAGE_LIST if ignore_package_list is None else ignore_package_list
    return PackageOptions(excludes=tuple(n.rstrip("*") for n in names if n.rstrip("*")))


def _installers_named(name: object) -> list[Installer]:
    """The installers a build record's ``installer`` may name, with the options the façade
    (and a plain ``layer-builder build``) gives them."""
    if name == "container":
        return [ContainerInstaller(engine) for engine in ENGINES]
    candidates: dict[object, list[Installer]] = {
        "pip": [PipInstaller()],
        "uv-pip": [UvPipInstaller()],
        "uv": [UvInstaller()],
        "poetry": [PoetryInstaller(), PoetryInstaller(use_uv=False)],
    }
    return candidates.get(name, [])


def built_tree(layout: NativePathLayout, manifest: Manifest) -> BuildResult:
    """The tree a builder left in ``artifacts/python/``, for its recorded target; refused
    when missing, not built by layer_builder, or built from another manifest."""
    record = read_build_record(layout)
    target = target_named(record.get("runtime"), record.get("architecture"))
    if not layout.dir_python.is_dir() or target is None:
        raise NothingBuiltError(
            f"{layout.dir_python} holds no build of layer_builder: run a builder first "
            f"(e.g. UVBasedLambdaLayerLocalBuilder(path_pyproject_toml=...).run())"
        )
    installers = _installers_named(record.get("installer"))
    if all(build_fingerprint(manifest, target, i) != record.get("fingerprint") for i in installers):
        raise MismatchedBuildError(
            f"{layout.dir_python} was built from another {manifest.filename} or "
            f"pyproject.toml than those in {manifest.project_dir}: run the builder again "
            f"before packaging"
        )
    return BuildResult(
        dir_python=layout.dir_python,
        manifest=manifest,
        target=target,
        distributions=find_distributions(layout.dir_python),
        installer=str(record.get("installer")),
        cached=True,
    )


@attrs.frozen
class LambdaLayerZipper:
    """Zips ``build/lambda/layer/artifacts/python/`` into ``build/lambda/layer/layer.zip``
    with ``python/`` at its root, for the target the builder recorded."""

    path_pyproject_toml: Path = attrs.field(converter=Path)
    #: The tool the layer was built with (None: found from the project's files).
    layer_build_tool: LayerBuildToolEnum | str | None = None
    #: Distributions to leave out (None: ``DEFAULT_IGNORE_PACKAGE_LIST``).
    ignore_package_list: Sequence[str] | None = None
    verbose: bool = True
    printer: Printer | None = None

    @property
    def path_layout(self) -> LayerPathLayout:
        """The project's local build tree."""
        return LayerPathLayout(self.path_pyproject_toml)

    def manifest(self) -> Manifest:
        """The manifest the tree was built from."""
        tool = None if self.layer_build_tool is None else tool_of(self.layer_build_tool)
        return Manifest.from_project(self.path_layout.dir_project_root, tool)

    def make_package_step(self) -> PackageStep:
        """The :class:`~layer_builder.PackageStep` this zipper runs."""
        layout = self.path_layout.native
        options = package_options(self.ignore_package_list)
        return PackageStep(layout.path_layer_zip, options, path_lock=layout.path_lock)

    def run(self) -> PackageResult:
        """Write ``build/lambda/layer/layer.zip`` from the built tree."""
        reporter = Reporter(self.verbose, self.printer)
        build = built_tree(self.path_layout.native, self.manifest())
        result = self.make_package_step().run(build)
        reporter.say(
            f"packaged {result.files} files for {build.target.runtime} "
            f"{build.target.architecture} into {result.path_zip} ({result.zip_size:,} bytes, "
            f"sha256 {result.sha256})"
        )
        if result.excluded:
            reporter.say(f"left out {', '.join(result.excluded)}")
        return result
