"""``plan``: what ``run`` would do (build? upload? publish which version? regions? grants?),
found with read-only calls: nothing is built, written, published or granted. It also lists
the multipart uploads left unfinished under each region's ``layer/`` (``prune --yes``
aborts them), and what the manifest changes against the latest version.

The decision is ``run``'s own (``PublishStep.compare``): each target against the newest
version that serves it. For several targets, ``plan_together`` says where ``run`` would
publish one universal version for them all."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs
import botocore.exceptions

from layer_builder.aws.clients import AwsClients, error_code
from layer_builder.changes import diff_pins_with
from layer_builder.errors import AwsError
from layer_builder.installers.pins import read_pins
from layer_builder.model.layer_diff import LayerDiff
from layer_builder.model.layout import LayerS3Layout
from layer_builder.operations.sharing import Grant, is_granted, policy_statements
from layer_builder.operations.storage import IncompleteUpload, list_incomplete_uploads
from layer_builder.steps.publish.step import PublishStep
from layer_builder.steps.publish.versions import latest_layer_version, universal_proof
from layer_builder.steps.universal import Universality
from layer_builder.workflow import LayerWorkflow

if TYPE_CHECKING:
    from layer_builder.matrix import MatrixResult, MatrixRun, TargetOutcome
    from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)


@attrs.frozen
class PublishPlan:
    """What would happen to the layer in one region."""

    region: str
    publish: bool
    reason: str
    #: The version that holds the build now (None when there is none yet).
    current_version: int | None
    current_version_arn: str | None
    #: Lambda numbers versions upwards and never reuses one, so this is a lower bound.
    next_version: int | None
    #: The grants ``run`` would add (all of them on a new version).
    grants_to_add: tuple[str, ...] = ()
    #: Multipart uploads under ``layer/`` never completed nor aborted (a killed run).
    incomplete_uploads: tuple[IncompleteUpload, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The plan of one region as ``--json`` prints it."""
        document = attrs.asdict(self, recurse=False)
        document["grants_to_add"] = list(self.grants_to_add)
        document["incomplete_uploads"] = [u.to_json() for u in self.incomplete_uploads]
        return document


@attrs.frozen
class Plan:
    """What ``LayerWorkflow.run()`` would do, region by region."""

    layer_name: str
    fingerprint: str
    s3_uri: str
    build: bool
    upload: str
    home: PublishPlan
    regions: tuple[PublishPlan, ...] = ()
    #: What the manifest changes against the home region's latest version (by its pins:
    #: sizes are known once built).
    diff: LayerDiff | None = None

    @property
    def changes(self) -> bool:
        """Whether ``run`` would change anything at all."""
        plans = (self.home, *self.regions)
        return self.build or any(p.publish or p.grants_to_add for p in plans)

    def to_json(self) -> dict[str, Any]:
        """The whole plan as ``plan --json`` prints it."""
        return {
            "layer_name": self.layer_name,
            "fingerprint": self.fingerprint,
            "s3_uri": self.s3_uri,
            "build": self.build,
            "upload": self.upload,
            "changes": self.changes,
            **self.home.to_json(),
            "regions": [r.to_json() for r in self.regions],
            "diff": self.diff.to_json() if self.diff is not None else None,
        }


def _missing_grants(
    aws: AwsClients, layer_name: str, version: int, grants: tuple[Grant, ...]
) -> tuple[str, ...]:
    if not grants:
        return ()
    statements = policy_statements(aws.lambda_, layer_name, version)
    return tuple(g.description for g in grants if not is_granted(g, statements))


def _plan_region(workflow: LayerWorkflow, region: str, step: PublishStep) -> PublishPlan:
    # The same decision as run's: each target against the newest version that serves it.
    aws, s3_layout = step.aws, step.s3_layout
    comparison = step.compare(workflow.fingerprint)
    latest, publish, reason = comparison.latest, comparison.publish, comparison.reason
    if publish or latest is None:
        grants = tuple(g.description for g in workflow.grants)
    else:
        grants = _missing_grants(aws, workflow.layer_name, latest.version, workflow.grants)
    return PublishPlan(
        region=region,
        publish=publish,
        reason=reason,
        current_version=None if latest is None else latest.version,
        current_version_arn=None if latest is None else latest.arn,
        next_version=_next_version(aws, workflow.layer_name) if publish else None,
        grants_to_add=grants,
        incomplete_uploads=_incomplete_uploads(aws, s3_layout),
    )


def _next_version(aws: AwsClients, layer_name: str) -> int:
    """The number the next version would get at least: one past the newest of any target."""
    newest = latest_layer_version(aws.lambda_, layer_name)
    return 1 if newest is None else newest.version + 1


def _incomplete_uploads(aws: AwsClients, s3_layout: LayerS3Layout) -> tuple[IncompleteUpload, ...]:
    """The unfinished uploads under ``layer/``; none, with a warning, when the caller may not
    list them (``s3:ListBucketMultipartUploads``): that is no reason for ``plan`` to fail."""
    try:
        return list_incomplete_uploads(aws.s3, s3_layout)
    except AwsError as exc:
        cause = exc.__cause__
        if not isinstance(cause, botocore.exceptions.ClientError) or error_code(cause) not in (
            "AccessDenied",
            "403",
        ):
            raise
        logger.warning("not listing the unfinished uploads: %s", exc)
        return ()


def _plan_diff(workflow: LayerWorkflow, home: PublishPlan) -> LayerDiff:
    """What the manifest's pins change against the version ``home`` compares with."""
    if not home.publish and home.current_version is not None:
        return LayerDiff.unchanged(home.current_version)
    installer = workflow.make_build_step().installer
    pins = read_pins(
        workflow.manifest,
        workflow.target,
        installer.options,
        getattr(installer, "index", None),
        # Build tools stay in the pins under the default list: a lock pins one only when a
        # locked package requires it, and the layer then keeps it.
        workflow.make_package_step().options.always_excluded,
    )
    return diff_pins_with(workflow.aws, workflow.s3_layout, home.current_version, pins)


def plan_run(workflow: LayerWorkflow) -> Plan:
    """What ``workflow.run()`` would do now, from read-only calls."""
    workflow.check()
    home = _plan_region(workflow, workflow.aws.region, workflow.make_publish_step())
    regions = tuple(
        _plan_region(workflow, r.region, workflow.make_region_publisher(r).publish_step)
        for r in workflow.regions
    )
    staged = workflow.staged_upload() is not None
    # Regions lacking the build are served from the staged zip when it is this build.
    build = home.publish or (any(r.publish for r in regions) and not staged)
    if not build:
        upload = "none"
    elif staged:
        upload = "skipped if the rebuilt zip is identical to the staged layer.zip"
    else:
        upload = "upload layer.zip"
    return Plan(
        layer_name=workflow.layer_name,
        fingerprint=workflow.fingerprint,
        s3_uri=workflow.s3_layout.s3path_layer_zip.uri,
        build=build,
        upload=upload,
        home=home,
        regions=regions,
        diff=_plan_diff(workflow, home),
    )


def plan_together(
    matrix: MatrixRun, outcomes: dict[LayerTarget, TargetOutcome[Plan]]
) -> MatrixResult[Plan]:
    """``MatrixRun.plan()``'s result from each target's own plan (``outcomes``).

    Where ``run`` would build (a target lacks its build) and the targets may share one zip,
    the targets that hold their build join the new version when the trees are one pure-Python
    tree. That is known without building when a version of this manifest's universal layer
    already serves every target (it was published once the trees had been found so): then
    each target's plan is the universal version's. Otherwise only the builds can tell, and
    the plans of the targets that hold their build say so."""
    from layer_builder.matrix import MatrixResult, TargetOutcome

    ordered = tuple(outcomes[t] for t in matrix.targets)
    plans = {o.target: o.result for o in ordered if o.result is not None}
    changed = [t for t, p in plans.items() if p.home.publish]
    if not changed or len(plans) < len(ordered) or matrix.universal_blocker() is not None:
        return MatrixResult(ordered)
    workflow = matrix.universal_workflow
    proof = universal_proof(
        workflow.aws.lambda_, workflow.layer_name, matrix.targets, workflow.fingerprint
    )
    if proof is None:
        next_version = plans[changed[0]].home.next_version
        return MatrixResult(
            tuple(TargetOutcome(t, _unless_universal(p, next_version)) for t, p in plans.items())
        )
    shared = plan_run(workflow)
    verdict = Universality(
        True, f"version {proof.version} holds this manifest's universal layer for every target"
    )
    return MatrixResult(
        tuple(TargetOutcome(t, _as_shared(shared, p), universal=True) for t, p in plans.items()),
        verdict,
    )


def _as_shared(shared: Plan, own: Plan) -> Plan:
    """The universal version's plan, as one target sees it: its own newest version, and what
    the manifest changes against it."""
    home = attrs.evolve(
        shared.home,
        current_version=own.home.current_version,
        current_version_arn=own.home.current_version_arn,
    )
    return attrs.evolve(shared, home=home, diff=own.diff)


def _unless_universal(plan: Plan, next_version: int | None) -> Plan:
    """``plan`` of a target that holds its build, saying it may join a new universal version."""
    if plan.home.publish:
        return plan
    reason = (
        f"{plan.home.reason}, or version {next_version} if the trees make one universal layer "
        f"(known once built)"
    )
    return attrs.evolve(plan, home=attrs.evolve(plan.home, reason=reason))
