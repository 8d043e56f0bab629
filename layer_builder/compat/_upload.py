"""Step 3 of the old API: ``upload_layer_zip_to_s3``, one ``UploadStep`` over the zip.

The zip goes to ``${s3dir_lambda}/layer/zips/<sha256>.zip`` (the key versions are published
from, never overwritten with other bytes) and is staged at ``layer/layer.zip``, the key the
old API wrote, with this project's labels plus the old ``manifest_md5`` metadata, so that a
job still running the old publisher accepts the upload.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layer_builder.compat._layouts import (
    LayerBuildToolEnum,
    LayerPathLayout,
    LayerS3Layout,
    tool_of,
)
from layer_builder.compat._output import Printer, Reporter
from layer_builder.compat.errors import NothingBuiltError
from layer_builder.model.layout import LayerS3Layout as NativeS3Layout
from layer_builder.model.manifest import Manifest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from layer_builder.model.s3path import S3Path
    from layer_builder.steps.upload import UploadResult

#: The metadata key the old API wrote on ``layer/layer.zip`` and its publisher checked.
MANIFEST_MD5 = "manifest_md5"


def manifest_md5(manifest: Manifest) -> str:
    """The old API's label of a manifest: the md5 (hex) of its bytes."""
    return hashlib.md5(manifest.content, usedforsecurity=False).hexdigest()


def label_manifest_md5(s3: Any, s3_layout: NativeS3Layout, manifest: Manifest) -> None:
    """Add ``manifest_md5`` to the metadata of ``layer/layer.zip``, unless it is there."""
    from layer_builder.aws.clients import aws_errors, head_object_or_none

    staging = s3_layout.s3path_layer_zip
    head = head_object_or_none(s3, staging)
    if head is None:
        return
    metadata = dict(head.get("Metadata", {}))
    md5 = manifest_md5(manifest)
    if metadata.get(MANIFEST_MD5) == md5:
        return
    source = {"Bucket": staging.bucket, "Key": staging.key}
    if head.get("VersionId"):
        source["VersionId"] = head["VersionId"]
    with aws_errors(f"adding {MANIFEST_MD5} to the metadata of {staging.uri}"):
        s3.copy_object(
            Bucket=staging.bucket,
            Key=staging.key,
            CopySource=source,
            MetadataDirective="REPLACE",
            ContentType="application/zip",
            Metadata={**metadata, MANIFEST_MD5: md5},
            ChecksumAlgorithm="SHA256",
        )


def report_upload(
    reporter: Reporter, path_zip: Path, s3_layout: NativeS3Layout, result: UploadResult
) -> None:
    """Say where the zip went: the staged ``layer.zip`` and its S3 console page (as the old
    API always did), then the immutable key it is published from."""
    staging = s3_layout.s3path_layer_zip
    reporter.always(f"uploaded {path_zip} to {staging.uri}")
    reporter.always(f"S3 console: {staging.console_url}")
    sent = "" if result.uploaded else " (already there: no byte sent)"
    reporter.say(f"stored as {result.s3_uri}{sent}")


def upload_layer_zip_to_s3(
    s3_client: S3Client,
    path_pyproject_toml: Path | str,
    s3dir_lambda: S3Path | str,
    layer_build_tool: LayerBuildToolEnum | str | None = None,
    verbose: bool = True,
    printer: Printer | None = None,
) -> UploadResult:
    """Upload ``build/lambda/layer/layer.zip`` and stage it at ``${s3dir_lambda}/layer/layer.zip``.

    ``layer_build_tool`` names the manifest the zip was built from (None: found from the
    project's files). Returns the :class:`~layer_builder.UploadResult` (the old function
    returned nothing).
    """
    from layer_builder.steps.package.step import PackageResult
    from layer_builder.steps.upload import UploadStep

    layout = LayerPathLayout(Path(path_pyproject_toml))
    path_zip = layout.path_build_lambda_layer_zip
    if not path_zip.is_file():
        raise NothingBuiltError(
            f"{path_zip} does not exist: run LambdaLayerZipper(path_pyproject_toml=...).run() first"
        )
    tool = None if layer_build_tool is None else tool_of(layer_build_tool)
    manifest = Manifest.from_project(layout.dir_project_root, tool)
    s3_layout = LayerS3Layout(s3dir_lambda)
    result = UploadStep(s3_layout, manifest, s3_client).run(PackageResult.from_zip(path_zip))
    label_manifest_md5(s3_client, s3_layout, manifest)
    report_upload(Reporter(verbose, printer), path_zip, s3_layout, result)
    return result
