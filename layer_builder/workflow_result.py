"""``WorkflowResult``: what one ``LayerWorkflow.run()`` did, step by step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from layer_builder.model.layer_diff import LayerDiff

if TYPE_CHECKING:
    from layer_builder.operations.regions import RegionResult
    from layer_builder.operations.sharing import GrantResult
    from layer_builder.steps.build import BuildResult
    from layer_builder.steps.package.step import PackageResult
    from layer_builder.steps.publish.step import PublishResult
    from layer_builder.steps.upload import UploadResult


@attrs.frozen(kw_only=True)
class WorkflowResult:
    """The results of one ``LayerWorkflow.run()``.

    When the latest published version already carries this build's fingerprint, ``run()``
    builds, packages and uploads nothing: ``build``, ``package`` and ``upload`` are then None
    and ``skipped`` is True; ``publish`` always says which version holds the dependencies.
    """

    build: BuildResult | None = None
    package: PackageResult | None = None
    upload: UploadResult | None = None
    publish: PublishResult
    #: What identifies the build (manifest + target + tool + package options).
    fingerprint: str
    #: One result per extra region (``regions=`` of the workflow), in the order given.
    regions: tuple[RegionResult, ...] = ()
    #: The grants (``grants=``) on the home version and each region's version.
    grants: tuple[GrantResult, ...] = ()
    #: What the build changes against the version it was compared with (the latest).
    diff: LayerDiff | None = None

    @property
    def skipped(self) -> bool:
        """True when nothing was built because nothing changed (the instant no-op)."""
        return self.build is None

    @property
    def zip_sha256(self) -> str | None:
        """The sha256 of the layer's zip: the one built, else the published version's."""
        return self.package.sha256 if self.package else self.publish.zip_sha256
