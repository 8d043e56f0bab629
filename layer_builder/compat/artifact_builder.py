"""The layer API of ``aws_lambda_artifact_builder`` 0.1.x, running on layer_builder's steps.

A script written for that package runs here with one line changed::

    import aws_lambda_artifact_builder.api as aws_lambda_artifact_builder       # before
    import layer_builder.compat.artifact_builder as aws_lambda_artifact_builder  # after

The names, parameters and defaults are the old ones; the local paths
(``build/lambda/layer/layer.zip``) and S3 keys (``layer/layer.zip``,
``layer/00000N/<manifest>``, ``layer/last-<manifest>``) too. What differs on purpose (the
build targets Lambda's platform, a no-change publish returns the existing version, messages
go to ``printer`` or logging) is listed on the page "Coming from aws_lambda_artifact_builder".
"""

from __future__ import annotations

from layer_builder.compat._builders import (
    PipBasedLambdaLayerContainerBuilder,
    PipBasedLambdaLayerLocalBuilder,
    PoetryBasedLambdaLayerContainerBuilder,
    PoetryBasedLambdaLayerLocalBuilder,
    UVBasedLambdaLayerContainerBuilder,
    UVBasedLambdaLayerLocalBuilder,
)
from layer_builder.compat._layouts import (
    Credentials,
    LayerBuildToolEnum,
    LayerPathLayout,
    LayerS3Layout,
)
from layer_builder.compat._output import Printer
from layer_builder.compat._publish import LambdaLayerVersionPublisher, LayerDeployment
from layer_builder.compat._upload import MANIFEST_MD5, upload_layer_zip_to_s3
from layer_builder.compat._workflow import (
    BuildPackageUploadAndPublishWorkflow,
    LambdaLayerBuildPackageUploadAndPublishWorkflow,
)
from layer_builder.compat._zipper import DEFAULT_IGNORE_PACKAGE_LIST, LambdaLayerZipper
from layer_builder.compat.errors import (
    DependenciesUnchangedError,
    InconsistentLayerZipError,
    LayerZipNotUploadedError,
    ManifestNotFoundError,
    NothingBuiltError,
)

#: The old module-level name of the default exclusion list (a list, as it was).
default_ignore_package_list = list(DEFAULT_IGNORE_PACKAGE_LIST)

__all__ = [
    "DEFAULT_IGNORE_PACKAGE_LIST",
    "MANIFEST_MD5",
    "BuildPackageUploadAndPublishWorkflow",
    "Credentials",
    "DependenciesUnchangedError",
    "InconsistentLayerZipError",
    "LambdaLayerBuildPackageUploadAndPublishWorkflow",
    "LambdaLayerVersionPublisher",
    "LambdaLayerZipper",
    "LayerBuildToolEnum",
    "LayerDeployment",
    "LayerPathLayout",
    "LayerS3Layout",
    "LayerZipNotUploadedError",
    "ManifestNotFoundError",
    "NothingBuiltError",
    "PipBasedLambdaLayerContainerBuilder",
    "PipBasedLambdaLayerLocalBuilder",
    "PoetryBasedLambdaLayerContainerBuilder",
    "PoetryBasedLambdaLayerLocalBuilder",
    "Printer",
    "UVBasedLambdaLayerContainerBuilder",
    "UVBasedLambdaLayerLocalBuilder",
    "default_ignore_package_list",
    "upload_layer_zip_to_s3",
]
