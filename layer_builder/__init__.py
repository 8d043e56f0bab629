"""Turn a Python project's locked dependencies into a published AWS Lambda layer."""

import sys

# Before any other import: on an older Python those fail on syntax or on a missing
# dependency, which would hide the real cause.
if sys.version_info < (3, 10):  # noqa: UP036 (tests/test_host_pythons.py runs it)
    raise ImportError(
        f"layer_builder needs Python 3.10 or newer, and this is Python "
        f"{sys.version.split()[0]} ({sys.executable}): install it with a newer Python "
        f"(e.g. `python3.12 -m pip install lambda-layer-builder`); the layer's own Python "
        f"(--python 3.10 ...) does not depend on it"
    )

# Only the version and the errors are imported with the package: everything else is loaded on
# first use (PEP 562), so that `layer-builder --version`, `build` and `package` never import
# boto3, botocore or s3pathlib (tests/test_startup.py). The TYPE_CHECKING block below gives
# type checkers and IDEs the same names.
import importlib
from typing import TYPE_CHECKING

from layer_builder._version import __version__
from layer_builder.errors import (
    AwsError,
    BuildError,
    ConfigurationError,
    DependencyProblemsError,
    IncompatibleWheelError,
    IndexAuthError,
    IndexUnreachableError,
    InstallerFailedError,
    LayerBuilderError,
    LayerTooLargeError,
    LicenseDeniedError,
    LockTimeoutError,
    MismatchedBuildError,
    NoCompatibleWheelError,
    NoDependenciesError,
    NotUniversalError,
    PackageError,
    PackageNotFoundError,
    ProjectError,
    PythonRangeError,
    RegionsFailedError,
    SourceBuildRefusedError,
    SourceOnlyDependencyError,
    StaleLockError,
    StaleUploadError,
    ToolMissingError,
)

if TYPE_CHECKING:
    from layer_builder.aws.client_config import ClientTimeouts
    from layer_builder.aws.clients import AwsClients
    from layer_builder.aws.local import LocalAwsEndpoint
    from layer_builder.aws.settings import AwsSettings
    from layer_builder.aws.write_options import S3WriteOptions
    from layer_builder.installers import (
        IndexOptions,
        Installer,
        InstallOptions,
        PipenvInstaller,
        PipInstaller,
        PoetryInstaller,
        PylockInstaller,
        PyprojectInstaller,
        UvInstaller,
        UvPipInstaller,
    )
    from layer_builder.installers.container import ContainerInstaller
    from layer_builder.matrix import MatrixResult, MatrixRun, TargetOutcome
    from layer_builder.model.contents import DistributionContents, LayerContents
    from layer_builder.model.distributions import InstalledDistribution
    from layer_builder.model.fingerprint import VersionStamp, compute_fingerprint
    from layer_builder.model.layer_diff import LayerDiff, VersionChange
    from layer_builder.model.layout import LayerPathLayout, LayerS3Layout
    from layer_builder.model.manifest import Manifest, Tool
    from layer_builder.model.target import LayerTarget, TargetSet
    from layer_builder.operations.regions import RegionResult, RegionTarget
    from layer_builder.operations.retention import PruneResult, RetentionPolicy, prune
    from layer_builder.operations.sharing import Grant, GrantResult
    from layer_builder.operations.storage import IncompleteUpload, StorageCleanup, StoredZip
    from layer_builder.plan import Plan, PublishPlan, plan_run
    from layer_builder.steps.build import BuildOptions, BuildResult, BuildStep, make_installer
    from layer_builder.steps.folder_lock import FolderLock
    from layer_builder.steps.package.options import DEFAULT_EXCLUDES, PackageOptions
    from layer_builder.steps.package.step import PackageResult, PackageStep
    from layer_builder.steps.publish.lock import PublishLock
    from layer_builder.steps.publish.options import PublishOptions
    from layer_builder.steps.publish.step import PublishResult, PublishStep
    from layer_builder.steps.universal import UniversalBuildStep, Universality
    from layer_builder.steps.upload import UploadResult, UploadStep, staged_upload
    from layer_builder.workflow import LayerWorkflow
    from layer_builder.workflow_result import WorkflowResult

#: Where each public name lives, imported when it is first asked for.
_LAZY: dict[str, str] = {
    "ClientTimeouts": "layer_builder.aws.client_config",
    "AwsClients": "layer_builder.aws.clients",
    "LocalAwsEndpoint": "layer_builder.aws.local",
    "AwsSettings": "layer_builder.aws.settings",
    "S3WriteOptions": "layer_builder.aws.write_options",
    "IndexOptions": "layer_builder.installers",
    "InstallOptions": "layer_builder.installers",
    "Installer": "layer_builder.installers",
    "PipInstaller": "layer_builder.installers",
    "PoetryInstaller": "layer_builder.installers",
    "PipenvInstaller": "layer_builder.installers",
    "PylockInstaller": "layer_builder.installers",
    "PyprojectInstaller": "layer_builder.installers",
    "UvInstaller": "layer_builder.installers",
    "UvPipInstaller": "layer_builder.installers",
    "ContainerInstaller": "layer_builder.installers.container",
    "MatrixResult": "layer_builder.matrix",
    "MatrixRun": "layer_builder.matrix",
    "TargetOutcome": "layer_builder.matrix",
    "DistributionContents": "layer_builder.model.contents",
    "LayerContents": "layer_builder.model.contents",
    "InstalledDistribution": "layer_builder.model.distributions",
    "VersionStamp": "layer_builder.model.fingerprint",
    "compute_fingerprint": "layer_builder.model.fingerprint",
    "LayerDiff": "layer_builder.model.layer_diff",
    "VersionChange": "layer_builder.model.layer_diff",
    "LayerPathLayout": "layer_builder.model.layout",
    "LayerS3Layout": "layer_builder.model.layout",
    "Manifest": "layer_builder.model.manifest",
    "Tool": "layer_builder.model.manifest",
    "LayerTarget": "layer_builder.model.target",
    "TargetSet": "layer_builder.model.target",
    "RegionResult": "layer_builder.operations.regions",
    "RegionTarget": "layer_builder.operations.regions",
    "PruneResult": "layer_builder.operations.retention",
    "RetentionPolicy": "layer_builder.operations.retention",
    "prune": "layer_builder.operations.retention",
    "Grant": "layer_builder.operations.sharing",
    "GrantResult": "layer_builder.operations.sharing",
    "IncompleteUpload": "layer_builder.operations.storage",
    "StorageCleanup": "layer_builder.operations.storage",
    "StoredZip": "layer_builder.operations.storage",
    "Plan": "layer_builder.plan",
    "PublishPlan": "layer_builder.plan",
    "plan_run": "layer_builder.plan",
    "BuildOptions": "layer_builder.steps.build",
    "BuildResult": "layer_builder.steps.build",
    "BuildStep": "layer_builder.steps.build",
    "make_installer": "layer_builder.steps.build",
    "FolderLock": "layer_builder.steps.folder_lock",
    "DEFAULT_EXCLUDES": "layer_builder.steps.package.options",
    "PackageOptions": "layer_builder.steps.package.options",
    "PackageResult": "layer_builder.steps.package.step",
    "PackageStep": "layer_builder.steps.package.step",
    "PublishLock": "layer_builder.steps.publish.lock",
    "PublishOptions": "layer_builder.steps.publish.options",
    "PublishResult": "layer_builder.steps.publish.step",
    "PublishStep": "layer_builder.steps.publish.step",
    "UniversalBuildStep": "layer_builder.steps.universal",
    "Universality": "layer_builder.steps.universal",
    "UploadResult": "layer_builder.steps.upload",
    "UploadStep": "layer_builder.steps.upload",
    "staged_upload": "layer_builder.steps.upload",
    "LayerWorkflow": "layer_builder.workflow",
    "WorkflowResult": "layer_builder.workflow_result",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_EXCLUDES",
    "AwsClients",
    "AwsError",
    "AwsSettings",
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "BuildStep",
    "ClientTimeouts",
    "ConfigurationError",
    "ContainerInstaller",
    "DependencyProblemsError",
    "DistributionContents",
    "FolderLock",
    "Grant",
    "GrantResult",
    "IncompatibleWheelError",
    "IncompleteUpload",
    "IndexAuthError",
    "IndexOptions",
    "IndexUnreachableError",
    "InstallOptions",
    "InstalledDistribution",
    "Installer",
    "InstallerFailedError",
    "LayerBuilderError",
    "LayerContents",
    "LayerDiff",
    "LayerPathLayout",
    "LayerS3Layout",
    "LayerTarget",
    "LayerTooLargeError",
    "LayerWorkflow",
    "LicenseDeniedError",
    "LocalAwsEndpoint",
    "LockTimeoutError",
    "Manifest",
    "MatrixResult",
    "MatrixRun",
    "MismatchedBuildError",
    "NoCompatibleWheelError",
    "NoDependenciesError",
    "NotUniversalError",
    "PackageError",
    "PackageNotFoundError",
    "PackageOptions",
    "PackageResult",
    "PackageStep",
    "PipInstaller",
    "PipenvInstaller",
    "Plan",
    "PoetryInstaller",
    "ProjectError",
    "PruneResult",
    "PublishLock",
    "PublishOptions",
    "PublishPlan",
    "PublishResult",
    "PublishStep",
    "PylockInstaller",
    "PyprojectInstaller",
    "PythonRangeError",
    "RegionResult",
    "RegionTarget",
    "RegionsFailedError",
    "RetentionPolicy",
    "S3WriteOptions",
    "SourceBuildRefusedError",
    "SourceOnlyDependencyError",
    "StaleLockError",
    "StaleUploadError",
    "StorageCleanup",
    "StoredZip",
    "TargetOutcome",
    "TargetSet",
    "Tool",
    "ToolMissingError",
    "UniversalBuildStep",
    "Universality",
    "UploadResult",
    "UploadStep",
    "UvInstaller",
    "UvPipInstaller",
    "VersionChange",
    "VersionStamp",
    "WorkflowResult",
    "__version__",
    "compute_fingerprint",
    "make_installer",
    "plan_run",
    "prune",
    "staged_upload",
]
