"""Step 4 of the old API: ``LambdaLayerVersionPublisher``, one ``PublishStep`` over the upload.

The old publisher compared the local manifest with the backup of the newest version and
raised ``ValueError`` when they were the same. The publish step compares the build's
fingerprint (manifest, target, package options) with the stamp in the newest version's
Description, under the publish lock, and returns the version that already holds the build;
``raise_on_unchanged=True`` raises as before (:class:`DependenciesUnchangedError`, a
``ValueError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from layer_builder.compat._layouts import (
    LayerBuildToolEnum,
    LayerPathLayout,
    LayerS3Layout,
    make_target,
    target_named,
    tool_of,
)
from layer_builder.compat._output import Printer, Reporter
from layer_builder.compat.errors import (
    DependenciesUnchangedError,
    InconsistentLayerZipError,
    LayerZipNotUploadedError,
)
from layer_builder.errors import ConfigurationError
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget
from layer_builder.steps.publish.options import PublishOptions

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

    from layer_builder.model.s3path import S3Path
    from layer_builder.steps.publish.step import PublishResult
    from layer_builder.steps.upload import UploadResult

#: The ``PublishLayerVersion`` parameters ``publish_layer_version_kwargs`` may hold: the
#: layer's name and its content are the publisher's own.
PUBLISH_KWARGS = ("Description", "LicenseInfo", "CompatibleRuntimes", "CompatibleArchitectures")


def _one(kwargs: Mapping[str, Any], key: str, built: str) -> str | None:
    """The one value of the list ``kwargs[key]`` (None when absent)."""
    values = kwargs.get(key)
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) != 1:
        raise ConfigurationError(
            f"publish_layer_version_kwargs {key}={values!r}: layer_builder declares the one "
            f"{built} the layer is built for; give a list of one, or drop {key}"
        )
    return str(values[0])


@attrs.frozen
class PublishSettings:
    """What ``publish_layer_version_kwargs`` asks for, in this project's terms."""

    options: PublishOptions = attrs.field(factory=PublishOptions)
    #: The runtime ``CompatibleRuntimes`` names (``python3.12``), if it does.
    runtime: str | None = None
    #: The architecture ``CompatibleArchitectures`` names, if it does.
    architecture: str | None = None

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any] | None) -> PublishSettings:
        """Read ``Description``, ``LicenseInfo``, ``CompatibleRuntimes`` (one) and
        ``CompatibleArchitectures`` (one); refuse any other key."""
        kwargs = kwargs or {}
        unknown = sorted(set(kwargs) - set(PUBLISH_KWARGS))
        if unknown:
            raise ConfigurationError(
                f"publish_layer_version_kwargs {', '.join(unknown)} not supported: give only "
                f"{', '.join(PUBLISH_KWARGS)} (the layer's name and content are the publisher's)"
            )
        options = PublishOptions(
            description=str(kwargs.get("Description", "")),
            license_info=kwargs.get("LicenseInfo"),
        )
        runtime = _one(kwargs, "CompatibleRuntimes", "runtime")
        architecture = _one(kwargs, "CompatibleArchitectures", "architecture")
        return cls(options, runtime, architecture)

    def target(
        self, py_ver_major: int | None, py_ver_minor: int | None, is_arm: bool | None
    ) -> LayerTarget:
        """The target given by the arguments, else named by the kwargs, else the default."""
        if py_ver_major is None and py_ver_minor is None and self.runtime is not None:
            major, _, minor = self.runtime.removeprefix("python").partition(".")
            if major.isdigit() and minor.isdigit():
                py_ver_major, py_ver_minor = int(major), int(minor)
        if is_arm is None and self.architecture is not None:
            is_arm = self.architecture == "arm64"
        target = make_target(py_ver_major, py_ver_minor, is_arm)
        self.check(target)
        return target

    def check(self, target: LayerTarget) -> None:
        """Refuse a runtime or architecture that is not the layer's."""
        for key, asked, built in (
            ("CompatibleRuntimes", self.runtime, target.runtime),
            ("CompatibleArchitectures", self.architecture, target.architecture),
        ):
            if asked is not None and asked != built:
                raise ConfigurationError(
                    f"publish_layer_version_kwargs {key} names {asked}, but the layer is built "
                    f"for {target.runtime} {target.architecture}: drop {key}, or build for {asked}"
                )


@attrs.frozen(kw_only=True)
class LayerDeployment:
    """The layer version that holds the build: new (``published``) or existing."""

    layer_name: str
    layer_version: int
    layer_version_arn: str
    #: ``layer/00000N/<manifest>``: the manifest backup of that version.
    s3path_manifest: S3Path | None
    #: False when an existing version already held this build (nothing was published).
    published: bool = True
    #: Why it was published or not, e.g. ``uv.lock changed since version 3``.
    reason: str = ""


def deployment(
    layer_name: str, result: PublishResult, reporter: Reporter, raise_on_unchanged: bool
) -> LayerDeployment:
    """Report the publish step's result; the old API's ``LayerDeployment`` of it."""
    if not result.published:
        reporter.say(f"nothing to publish: {result.reason} ({result.layer_version_arn})")
        if raise_on_unchanged:
            raise DependenciesUnchangedError(
                f"nothing to publish for layer {layer_name!r}: {result.reason} "
                f"({result.layer_version_arn}); raise_on_unchanged=False returns that version"
            )
    else:
        reporter.say(f"published layer version {result.layer_version}: {result.layer_version_arn}")
    if result.s3path_manifest is not None:
        reporter.say(f"manifest backup: {result.s3path_manifest.uri}")
        reporter.say(f"S3 console: {result.s3path_manifest.console_url}")
    return LayerDeployment(
        layer_name=layer_name,
        layer_version=result.layer_version,
        layer_version_arn=result.layer_version_arn,
        s3path_manifest=result.s3path_manifest,
        published=result.published,
        reason=result.reason,
    )


def staged(
    s3: Any, s3_layout: LayerS3Layout, manifest: Manifest
) -> tuple[UploadResult, LayerTarget | None]:
    """The upload staged at ``layer/layer.zip`` (naming its immutable zip) and the target it
    is labelled with; refused when missing, another tool's, or another manifest's."""
    from layer_builder.aws.clients import head_object_or_none
    from layer_builder.steps.upload import (
        META_ARCHITECTURE,
        META_FINGERPRINT,
        META_RUNTIME,
        UploadResult,
        zip_of,
    )

    staging = s3_layout.s3path_layer_zip
    head = head_object_or_none(s3, staging)
    if head is None:
        raise LayerZipNotUploadedError(
            f"{staging.uri} does not exist: run upload_layer_zip_to_s3(...) first"
        )
    metadata = head.get("Metadata", {})
    if META_FINGERPRINT not in metadata:
        raise InconsistentLayerZipError(
            f"{staging.uri} was not uploaded by layer_builder (by aws_lambda_artifact_builder?): "
            f"upload it again with upload_layer_zip_to_s3(...) of "
            f"layer_builder.compat.artifact_builder, then publish"
        )
    labels = UploadResult.from_head(staging, head)
    if labels.manifest_sha256 != manifest.sha256:
        raise InconsistentLayerZipError(
            f"{staging.uri} was uploaded from another {manifest.filename} than {manifest.path}: "
            f"package and upload again, then publish"
        )
    target = target_named(metadata.get(META_RUNTIME), metadata.get(META_ARCHITECTURE))
    return zip_of(s3, s3_layout, labels), target


@attrs.frozen(kw_only=True)
class LambdaLayerVersionPublisher:
    """Publishes the staged upload as a new version of ``layer_name`` when the build changed,
    then writes ``layer/00000N/<manifest>`` and ``layer/last-<manifest>``."""

    layer_name: str
    path_pyproject_toml: Path = attrs.field(converter=Path)
    s3dir_lambda: S3Path | str
    s3_client: S3Client = attrs.field(repr=False)
    lambda_client: LambdaClient = attrs.field(repr=False)
    #: The tool the layer was built with (None: found from the project's files).
    layer_build_tool: LayerBuildToolEnum | str | None = None
    #: ``Description``, ``LicenseInfo``, ``CompatibleRuntimes``, ``CompatibleArchitectures``.
    publish_layer_version_kwargs: Mapping[str, Any] | None = None
    verbose: bool = True
    printer: Printer | None = None
    #: Raise ``DependenciesUnchangedError`` (a ``ValueError``) when nothing changed, as the
    #: old publisher did, instead of returning the version that holds the build.
    raise_on_unchanged: bool = False

    def run(self) -> LayerDeployment:
        """Publish (or find) the version that holds the staged upload."""
        from layer_builder.aws.clients import AwsClients
        from layer_builder.steps.publish.records import LocalVersionRecords
        from layer_builder.steps.publish.step import PublishStep

        layout = LayerPathLayout(self.path_pyproject_toml)
        tool = None if self.layer_build_tool is None else tool_of(self.layer_build_tool)
        manifest = Manifest.from_project(layout.dir_project_root, tool)
        s3_layout = LayerS3Layout(self.s3dir_lambda)
        settings = PublishSettings.from_kwargs(self.publish_layer_version_kwargs)
        upload, labelled = staged(self.s3_client, s3_layout, manifest)
        if labelled is None:  # uploaded by a release that did not label the target
            target = settings.target(None, None, None)
        else:
            settings.check(labelled)
            target = labelled
        aws = AwsClients(s3=self.s3_client, lambda_=self.lambda_client)
        records = LocalVersionRecords(layout.native)
        step = PublishStep(
            self.layer_name, target, manifest, s3_layout, aws, settings.options, records=records
        )
        result = step.run(upload)
        reporter = Reporter(self.verbose, self.printer)
        return deployment(self.layer_name, result, reporter, self.raise_on_unchanged)
