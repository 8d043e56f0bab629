"""``LayerWorkflow``: the four steps, composed, with factories and hooks to override."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from layer_builder.aws.settings import AwsSettings
from layer_builder.errors import AwsError
from layer_builder.installers.resolution import project_manifest
from layer_builder.model.fingerprint import compute_fingerprint
from layer_builder.model.layer_diff import LayerDiff
from layer_builder.model.layout import LayerPathLayout, LayerS3Layout, check_s3dir
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget, TargetSet
from layer_builder.steps.build import BuildOptions, BuildResult, BuildStep
from layer_builder.steps.folder_lock import FolderLock
from layer_builder.steps.package.step import PackageOptions, PackageResult, PackageStep
from layer_builder.steps.publish.options import PublishOptions, validate_layer_name
from layer_builder.steps.universal import UniversalBuildStep
from layer_builder.workflow_result import WorkflowResult as WorkflowResult

# The AWS side (boto3, botocore, s3pathlib, and the steps and operations built on them) is
# imported where it is used, so that `build` and `package` never load it
# (tests/test_startup.py).
if TYPE_CHECKING:
    from layer_builder.aws.clients import AwsClients
    from layer_builder.model.s3path import S3Path
    from layer_builder.operations.regions import RegionPublisher, RegionResult, RegionTarget
    from layer_builder.operations.sharing import Grant, GrantResult
    from layer_builder.steps.publish.records import VersionRecords
    from layer_builder.steps.publish.step import PublishResult, PublishStep
    from layer_builder.steps.upload import ProgressCallback, UploadResult, UploadStep

logger = logging.getLogger(__name__)


class LayerWorkflow:
    """Build, package, upload and publish a project's dependencies as a Lambda layer.

    Give the configuration once; each step is made by a ``make_*_step()`` factory and each
    result passes through an ``after_*()`` hook, so a subclass can swap a step or add work
    between steps (a scan, a smoke test, a notification) without copying ``run()``.
    Options come in one value object per step (``build_options``, ``package_options``,
    ``publish_options``). AWS clients are created on first use, so ``build`` and ``package``
    need no AWS account.
    """

    def __init__(
        self,
        project_dir: Path | str,
        layer_name: str,
        s3dir_lambda: S3Path | str,
        target: LayerTarget | None = None,
        *,
        build_folder: str | None = None,
        universal: TargetSet | None = None,
        build_options: BuildOptions | None = None,
        package_options: PackageOptions | None = None,
        publish_options: PublishOptions | None = None,
        aws: AwsClients | None = None,
        expected_bucket_owner: str | None = None,
        regions: Sequence[RegionTarget] = (),
        grants: Sequence[Grant] = (),
        upload_progress: ProgressCallback | None = None,
        aws_settings: AwsSettings | None = None,
    ):
        self.project_dir = Path(project_dir).resolve()
        # Validated now, so that bad input fails before any build starts.
        self.layer_name = validate_layer_name(layer_name)
        # Checked now, made on first use: an S3Path needs s3pathlib (which imports boto3).
        self._s3dir_lambda = (
            check_s3dir(s3dir_lambda) if isinstance(s3dir_lambda, str) else s3dir_lambda
        )
        #: One layer for all these targets (pure Python, see ``steps.universal``): built
        #: from each target's tree, published once declaring them all.
        self.universal = universal
        self.target = target or (universal.first if universal else LayerTarget())
        #: The folder under ``build/lambda/`` for the tree and zip (None: ``layer/`` itself).
        self.build_folder = build_folder
        self.build_options = build_options or BuildOptions()
        self.package_options = package_options or PackageOptions()
        self.publish_options = publish_options or PublishOptions()
        self._aws = aws
        #: The AWS profile, the home region, and the encryption and tags of S3 writes.
        self.aws_settings = aws_settings or AwsSettings()
        #: The account that must own every bucket used (sent as ``ExpectedBucketOwner``).
        self.expected_bucket_owner = None
        if expected_bucket_owner:
            from layer_builder.aws.client_config import check_account_id

            self.expected_bucket_owner = check_account_id(expected_bucket_owner)
        #: After publishing at home: copy and publish in these regions, then grant these.
        self.regions = tuple(regions)
        self.grants = tuple(grants)
        self.upload_progress = upload_progress
        self._region_aws: dict[str, AwsClients] = {}

    @cached_property
    def manifest(self) -> Manifest:
        """The project's lock file or requirements, read once (a lock-less pyproject.toml:
        resolved now, so that its pins decide the fingerprint)."""
        return project_manifest(
            self.project_dir, self.build_options.tool, self.build_options.installer
        )

    @cached_property
    def layout(self) -> LayerPathLayout:
        """Where the tree and the zip go under ``build/lambda/``."""
        return LayerPathLayout(self.project_dir, self.build_folder)

    @cached_property
    def s3_layout(self) -> LayerS3Layout:
        """The S3 keys under the Lambda folder (made on first use: ``S3Path`` loads boto3)."""
        return LayerS3Layout(self._s3dir_lambda)

    @cached_property
    def aws(self) -> AwsClients:
        """The AWS clients, made on first use (``aws_settings`` and the bucket owner applied)."""
        owner = self.expected_bucket_owner
        if self._aws is None:
            return self.aws_settings.clients(expected_bucket_owner=owner)
        return self.aws_settings.clients(self._aws).with_expected_bucket_owner(owner)

    @cached_property
    def fingerprint(self) -> str:
        """What identifies the build before it exists: the same value ``PackageStep`` stamps."""
        # Asked of the steps the factories make, so that a swapped step counts.
        return self._fingerprint(None if self.universal else self.target)

    @cached_property
    def universal_fingerprint(self) -> str:
        """The fingerprint of the universal layer of this manifest and these options: a
        version stamped with it also holds this build (see ``PublishOptions.universal``)."""
        return self._fingerprint(None)

    def _fingerprint(self, target: LayerTarget | None) -> str:
        return compute_fingerprint(
            self.manifest,
            target,
            self.make_package_step().fingerprint_fields(),
            self.make_build_step().fingerprint_fields(),
        )

    # -- factories: override one to swap a step ------------------------------------------

    def make_build_step(self) -> BuildStep | UniversalBuildStep:
        """The build step (a ``UniversalBuildStep`` for a universal layer)."""
        if self.universal:
            # Each target's tree, in the folder of its own workflow (``MatrixRun``'s).
            return UniversalBuildStep([self._build_step(t, t.name) for t in self.universal])
        return self._build_step(self.target, self.build_folder)

    def _build_step(self, target: LayerTarget, folder: str | None) -> BuildStep:
        options = self.build_options
        layout = LayerPathLayout(self.project_dir, folder)
        return BuildStep(
            target, self.manifest, layout, options.installer, use_cache=options.use_cache
        )

    def make_package_step(self) -> PackageStep:
        """The package step."""
        return PackageStep(
            self.layout.path_layer_zip, self.package_options, path_lock=self.layout.path_lock
        )

    def make_upload_step(self) -> UploadStep:
        """The upload step, checking the zip against this build's fingerprint."""
        from layer_builder.steps.upload import UploadStep

        return UploadStep(
            self.s3_layout,
            self.manifest,
            self.aws.s3,
            self.upload_progress,
            expected_fingerprint=self.fingerprint,
        )

    def make_publish_step(self) -> PublishStep:
        """The publish step of the home region."""
        return self._publish_step(self.aws, self.s3_layout)

    def _publish_step(self, aws: AwsClients, s3_layout: LayerS3Layout) -> PublishStep:
        from layer_builder.steps.publish.step import PublishStep

        universal = self.universal_fingerprint if self.publish_options.universal else None
        return PublishStep(
            self.layer_name,
            self.target,
            self.manifest,
            s3_layout,
            aws,
            self.publish_options,
            expected_fingerprint=self.fingerprint,
            records=self.make_version_records(),
            universal_fingerprint=universal,
            targets=self.universal,
        )

    def make_version_records(self) -> VersionRecords:
        """What each published version keeps: the build tree's contents record and SBOM."""
        from layer_builder.steps.publish.records import LocalVersionRecords

        return LocalVersionRecords(self.layout)

    def region_aws(self, region: str) -> AwsClients:
        """The clients for ``region`` (made once per workflow)."""
        if region not in self._region_aws:
            self._region_aws[region] = self.aws.for_region(region)
        return self._region_aws[region]

    def make_region_publisher(self, region: RegionTarget) -> RegionPublisher:
        """What copies and publishes the build in one extra region."""
        from layer_builder.operations.regions import RegionPublisher

        aws = self.region_aws(region.region)
        layout = LayerS3Layout(region.s3dir_lambda)
        return RegionPublisher(region, aws, self._publish_step(aws, layout))

    # -- hooks: override one to add work between steps ----------------------------------

    def after_build(self, result: BuildResult) -> None:
        """Called with the installed tree before it is packaged; raise to stop the run."""

    def after_package(self, result: PackageResult) -> None:
        """Called with the zip before it is uploaded; raise to stop the run."""

    def after_upload(self, result: UploadResult) -> None:
        """Called with the uploaded object before publishing; raise to stop the run."""

    def after_publish(self, result: PublishResult) -> None:
        """Called with the publish outcome (published or not)."""

    # -- running -------------------------------------------------------------------------

    def check(self) -> None:
        """Check what can be checked before any work: the manifest and the S3 buckets
        (region, owner, versioning when ``REFERENCE`` storage needs it), home and extra."""
        from layer_builder.operations.preflight import check_buckets

        _ = self.manifest
        check_buckets(
            self.aws,
            self.s3_layout.s3dir_lambda.bucket,
            self.publish_options.storage_mode,
            [(r, self.region_aws(r.region)) for r in self.regions],
        )

    def build(self) -> BuildResult:
        """Run the build step, then ``after_build``."""
        result = self.make_build_step().run()
        self.after_build(result)
        return result

    def package(self, build: BuildResult) -> PackageResult:
        """Run the package step on ``build``, then ``after_package``."""
        result = self.make_package_step().run(build)
        self.after_package(result)
        return result

    def upload(self, package: PackageResult) -> UploadResult:
        """Run the upload step on ``package``, then ``after_upload``."""
        result = self.make_upload_step().run(package)
        self.after_upload(result)
        return result

    def publish(self, upload: UploadResult) -> PublishResult:
        """Run the publish step on ``upload``, then ``after_publish``."""
        result = self.make_publish_step().run(upload)
        self.after_publish(result)
        return result

    # -- what earlier commands left: each checked by its step to be this build ---------

    def last_build(self) -> BuildResult:
        """The tree ``build`` left (``BuildStep.last_result``)."""
        return self.make_build_step().last_result()

    def last_package(self) -> PackageResult:
        """The zip ``package`` left, checked against the tree when there is one."""
        build = self.last_build() if self.layout.dir_python.is_dir() else None
        return self.make_package_step().last_result(build)

    def last_upload(self) -> UploadResult:
        """What ``upload`` staged, naming the immutable zip to publish from."""
        return self.make_upload_step().last_result()

    def folder_lock(self, command: str) -> FolderLock:
        """The project's folder lock, for work on the local tree and zip (see ``run()``)."""
        return FolderLock(self.layout.path_lock, command)

    def find_unchanged(self) -> PublishResult | None:
        """``run()``'s outcome when the latest version carries this build's fingerprint, found
        without building (None: forced, changed, or a rebuild, compared by its bytes once built)."""
        step = self.make_publish_step()
        return step.check_unchanged(self.fingerprint) if self.build_options.use_cache else None

    def publish_regions(self, source: UploadResult | None) -> tuple[RegionResult, ...]:
        """Copy ``source`` to each extra region and publish it there (where missing)."""
        from layer_builder.operations import regions

        publishers = [self.make_region_publisher(r) for r in self.regions]
        return regions.publish_regions(publishers, source, self.fingerprint)

    def run(self) -> WorkflowResult:
        """Check; build, package, upload and publish; then copy and publish in each extra
        region and apply the grants.

        When the latest version already holds this build, nothing is built (the instant
        no-op): only ``after_publish`` runs, and extra regions are served from the zip already
        uploaded, unless one lacks the build and no uploaded zip can serve it. Build, package
        and upload hold the project's folder lock, so two runs in one folder take turns; the
        no-op touches no local file and takes no lock."""
        self.check()
        return self.run_checked()

    def run_checked(self) -> WorkflowResult:
        """``run()`` after its ``check()``, for a caller that made it already (``MatrixRun``
        checks once for every target)."""
        unchanged = self.find_unchanged()
        if unchanged is None:
            return self.run_steps()
        return self.run_unchanged(unchanged)

    def run_unchanged(self, unchanged: PublishResult) -> WorkflowResult:
        """The end of ``run()`` when ``find_unchanged()`` found the version that holds the
        build: the extra regions (served from the staged zip, else built) and grants. The
        licence policy is applied to that version (``steps.publish.kept_licences``)."""
        from layer_builder.steps.publish.kept_licences import check_kept_licences

        deny = self.package_options.deny_licenses
        if not check_kept_licences(self.aws.s3, self.s3_layout, self.layout, deny, unchanged):
            return self.run_steps()  # no record of what the version holds: judge the tree
        if not self.regions:
            return self._extend(self._unchanged_result(unchanged))
        staged = self.staged_upload()
        if staged is None and not self._regions_hold_build():
            return self.run_steps()  # a region needs the zip, and none is uploaded
        return self._extend(self._unchanged_result(unchanged), source=staged)

    def run_steps(self) -> WorkflowResult:
        """The four steps, then the extra regions and grants (``run()`` once it found that
        the build is not published yet)."""
        # One run at a time in this folder from the build to the end of the upload (which
        # reads the zip); the steps take the same lock again, re-entrantly.
        with self.folder_lock("run"):
            build = self.build()
            package = self.package(build)
            diff = self.diff(package)
            upload = self.upload(package)
        publish = self.publish(upload)
        result = WorkflowResult(
            build=build,
            package=package,
            upload=upload,
            publish=publish,
            fingerprint=package.fingerprint,
            diff=diff,
        )
        return self._extend(result, source=upload)

    def _extend(self, result: WorkflowResult, source: UploadResult | None = None) -> WorkflowResult:
        """``result`` with the extra regions published from ``source`` and the grants."""
        if result.skipped:
            self.after_publish(result.publish)
        regions = self.publish_regions(source) if self.regions else ()
        grants = self.share(result.publish, regions)
        return attrs.evolve(result, regions=regions, grants=grants)

    def _unchanged_result(self, unchanged: PublishResult) -> WorkflowResult:
        """The result of the instant no-op: the version that holds the build, nothing new."""
        diff = LayerDiff.unchanged(unchanged.layer_version)
        return WorkflowResult(publish=unchanged, fingerprint=self.fingerprint, diff=diff)

    def diff(self, package: PackageResult) -> LayerDiff:
        """What ``package`` changes against the version publishing compares with (the newest
        one this target can use), from that version's ``contents.json``."""
        from layer_builder.changes import diff_contents_with
        from layer_builder.steps.package.contents import contents_of

        latest = self.make_publish_step().latest()
        version = latest.version if latest is not None else None
        contents = contents_of(package, self.target)
        return diff_contents_with(self.aws, self.s3_layout, version, contents)

    def share(
        self, publish: PublishResult, regions: Sequence[RegionResult] = ()
    ) -> tuple[GrantResult, ...]:
        """Apply ``grants`` to the version ``publish`` names, and to each region's version;
        grants already in place are left alone, so this is safe to repeat."""
        if not self.grants:
            return ()
        done = list(self._share_one(self.aws, publish))
        for region in regions:
            if region.publish is not None:
                done += self._share_one(self.region_aws(region.region), region.publish)
        return tuple(done)

    def _share_one(self, aws: AwsClients, publish: PublishResult) -> tuple[GrantResult, ...]:
        from layer_builder.operations.sharing import share_version

        return share_version(
            aws.lambda_,
            self.layer_name,
            publish.layer_version,
            publish.layer_version_arn,
            self.grants,
        )

    def staged_upload(self) -> UploadResult | None:
        """The zip ``layer/layer.zip`` stages, when it is this very build (else None)."""
        from layer_builder.steps import upload

        try:
            found = upload.staged_upload(self.aws.s3, self.s3_layout)
        except AwsError:
            return None  # not uploaded by layer_builder, or its zip was pruned: build again
        return found if found is not None and found.fingerprint == self.fingerprint else None

    def _regions_hold_build(self) -> bool:
        publishers = [self.make_region_publisher(r) for r in self.regions]
        return all(
            p.publish_step.check_unchanged(self.fingerprint, repair=False) for p in publishers
        )
