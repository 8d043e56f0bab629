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

from layer_builder._version import __version__
from layer_builder.aws.client_config import ClientTimeouts
from layer_builder.aws.clients import AwsClients
from layer_builder.aws.local import LocalAwsEndpoint
from layer_builder.aws.settings import AwsSettings
from layer_builder.aws.write_options import S3WriteOptions
from layer_builder.errors import (
    AwsError,
    BuildError,
    ConfigurationError,
    IncompatibleWheelError,
    IndexAuthError,
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
    RegionsFailedError,
    SourceOnlyDependencyError,
    StaleLockError,
    StaleUploadError,
    ToolMissingError,
)
from layer_builder.installers import (
    IndexOptions,
    Installer,
    InstallOptions,
    PipInstaller,
    PoetryInstaller,
    PylockInstaller,
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
from layer_builder.steps.package.step import (
    DEFAULT_EXCLUDES,
    PackageOptions,
    PackageResult,
    PackageStep,
)
from layer_builder.steps.publish.lock import PublishLock
from layer_builder.steps.publish.options import PublishOptions
from layer_builder.steps.publish.step import PublishResult, PublishStep
from layer_builder.steps.universal import UniversalBuildStep, Universality
from layer_builder.steps.upload import UploadResult, UploadStep, staged_upload
from layer_builder.workflow import LayerWorkflow, WorkflowResult

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
    "DistributionContents",
    "FolderLock",
    "Grant",
    "GrantResult",
    "IncompatibleWheelError",
    "IncompleteUpload",
    "IndexAuthError",
    "IndexOptions",
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
    "RegionResult",
    "RegionTarget",
    "RegionsFailedError",
    "RetentionPolicy",
    "S3WriteOptions",
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
