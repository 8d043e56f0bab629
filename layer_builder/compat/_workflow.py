"""The old API's all-in-one workflow, over :class:`~layer_builder.LayerWorkflow`.

The old workflow built in a container (Docker) and always ran the four steps. This one builds
on the host for the Lambda target unless ``container="docker"`` asks for the build image, and
``run()`` returns at once, building nothing, when the newest version already holds the build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from layer_builder.compat._layouts import (
    Credentials,
    LayerBuildToolEnum,
    LayerPathLayout,
    index_options,
    tool_of,
)
from layer_builder.compat._output import Printer, Reporter
from layer_builder.compat._publish import LayerDeployment, PublishSettings, deployment
from layer_builder.compat._upload import label_manifest_md5, report_upload
from layer_builder.compat._zipper import package_options
from layer_builder.model.manifest import Manifest
from layer_builder.steps.build import BuildOptions, BuildResult, make_installer
from layer_builder.steps.package.step import PackageResult
from layer_builder.workflow import LayerWorkflow

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

    from layer_builder.model.s3path import S3Path
    from layer_builder.steps.publish.step import PublishResult
    from layer_builder.steps.upload import UploadResult


class ReportingWorkflow(LayerWorkflow):
    """A :class:`~layer_builder.LayerWorkflow` whose hooks report each step to the façade's
    printer and label each upload with the old ``manifest_md5``."""

    def __init__(self, *args: Any, reporter: Reporter | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        #: Where the hooks' messages go.
        self.reporter = reporter or Reporter()

    def after_build(self, result: BuildResult) -> None:
        """Report the installed tree."""
        done = "reused" if result.cached else "installed"
        self.reporter.say(
            f"{done} {len(result.distributions)} distributions in {result.dir_python} for "
            f"{result.target.description}"
        )

    def after_package(self, result: PackageResult) -> None:
        """Report the zip."""
        self.reporter.say(
            f"packaged {result.files} files into {result.path_zip} ({result.zip_size:,} bytes)"
        )

    def after_upload(self, result: UploadResult) -> None:
        """Label ``layer/layer.zip`` with ``manifest_md5``, then report where it went."""
        label_manifest_md5(self.aws.s3, self.s3_layout, self.manifest)
        report_upload(self.reporter, self.layout.path_layer_zip, self.s3_layout, result)


@attrs.frozen(kw_only=True)
class LambdaLayerBuildPackageUploadAndPublishWorkflow:
    """Builds, packages, uploads and publishes the project's dependencies as ``layer_name``.

    ``run()`` returns the :class:`LayerDeployment` of the version that holds the build:
    a new one, or (``published=False``) the one that already did, unless
    ``raise_on_unchanged=True``. ``step_1_build()`` ... ``step_4_publish()`` (also named
    ``build()`` ... ``publish()``) run one step each from what the previous one left.
    """

    layer_name: str
    path_pyproject_toml: Path = attrs.field(converter=Path)
    s3dir_lambda: S3Path | str
    s3_client: S3Client = attrs.field(repr=False)
    lambda_client: LambdaClient = attrs.field(repr=False)
    #: The tool the project locks with (None: found from the project's files).
    layer_build_tool: LayerBuildToolEnum | str | None = None
    #: The target's Python (default: ``CompatibleRuntimes``, else the running interpreter's).
    py_ver_major: int | None = None
    py_ver_minor: int | None = None
    #: ``arm64`` when true (default: ``CompatibleArchitectures``, else ``x86_64``).
    is_arm: bool | None = None
    credentials: Credentials | None = None
    #: Distributions to leave out (None: the old default list, see ``LambdaLayerZipper``).
    ignore_package_list: Sequence[str] | None = None
    #: ``Description``, ``LicenseInfo``, ``CompatibleRuntimes``, ``CompatibleArchitectures``.
    publish_layer_version_kwargs: Mapping[str, Any] | None = None
    verbose: bool = True
    printer: Printer | None = None
    #: ``docker`` or ``podman``: build in the runtime's build image, as the old workflow did.
    container: str | None = None
    #: Raise ``DependenciesUnchangedError`` (a ``ValueError``) when nothing changed.
    raise_on_unchanged: bool = False

    @property
    def path_layout(self) -> LayerPathLayout:
        """The project's local build tree."""
        return LayerPathLayout(self.path_pyproject_toml)

    @property
    def reporter(self) -> Reporter:
        """Where the messages go."""
        return Reporter(self.verbose, self.printer)

    def make_workflow(self) -> LayerWorkflow:
        """The :class:`~layer_builder.LayerWorkflow` this façade runs."""
        from layer_builder.aws.clients import AwsClients

        settings = PublishSettings.from_kwargs(self.publish_layer_version_kwargs)
        target = settings.target(self.py_ver_major, self.py_ver_minor, self.is_arm)
        project = self.path_layout.dir_project_root
        tool = None if self.layer_build_tool is None else tool_of(self.layer_build_tool)
        index = index_options(self.credentials)
        installer = None
        if index is not None or self.container:
            tool = tool or Manifest.from_project(project).tool
            installer = make_installer(tool, index=index, container=self.container)
        return ReportingWorkflow(
            project,
            self.layer_name,
            self.s3dir_lambda,
            target,
            build_options=BuildOptions(tool=tool, installer=installer),
            package_options=package_options(self.ignore_package_list),
            publish_options=settings.options,
            aws=AwsClients(s3=self.s3_client, lambda_=self.lambda_client),
            reporter=self.reporter,
        )

    def run(self) -> LayerDeployment:
        """Run the four steps (none when the newest version already holds the build)."""
        result = self.make_workflow().run()
        return self._deployment(result.publish)

    def step_1_build(self) -> BuildResult:
        """Install the dependencies into ``build/lambda/layer/artifacts/python/``."""
        return self.make_workflow().build()

    def step_2_package(self) -> PackageResult:
        """Zip the tree ``step_1_build()`` left into ``build/lambda/layer/layer.zip``."""
        workflow = self.make_workflow()
        return workflow.package(workflow.last_build())

    def step_3_upload(self) -> UploadResult:
        """Upload the zip ``step_2_package()`` left, staged at ``layer/layer.zip``."""
        workflow = self.make_workflow()
        return workflow.upload(workflow.last_package())

    def step_4_publish(self) -> LayerDeployment:
        """Publish what ``step_3_upload()`` staged, when the build changed."""
        workflow = self.make_workflow()
        return self._deployment(workflow.publish(workflow.last_upload()))

    def _deployment(self, result: PublishResult) -> LayerDeployment:
        return deployment(self.layer_name, result, self.reporter, self.raise_on_unchanged)

    # The names of the example in the old workflow's docstring.
    build = step_1_build
    package = step_2_package
    upload = step_3_upload
    publish = step_4_publish


#: The name the issue and the old workflow's docstring use for the same class.
BuildPackageUploadAndPublishWorkflow = LambdaLayerBuildPackageUploadAndPublishWorkflow
