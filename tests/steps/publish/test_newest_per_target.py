"""Each target compares with the newest version that serves it (what a function attaching
the latest compatible version gets), across universal and one-target versions of one layer
name: ``run`` and ``plan`` decide alike, and ``targets/<target>/last-<manifest>`` follows
what Lambda holds for that target."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from layer_builder import AwsClients, LayerTarget, LayerWorkflow, PublishOptions
from layer_builder.matrix import MakeWorkflow, MatrixRun
from layer_builder.model.fingerprint import VersionStamp
from layer_builder.model.target import TargetSet
from layer_builder.plan import Plan, plan_run
from layer_builder.steps.publish.versions import (
    PublishedVersion,
    compare,
    latest_layer_version,
    list_versions,
)
from tests.aws_helpers import make_manifest
from tests.conftest import MakeProject

X86 = LayerTarget("3.12", "x86_64")
ARM = LayerTarget("3.12", "arm64")
BOTH = TargetSet([X86, ARM])
FOUR = TargetSet.parse(["3.12/x86_64", "3.12/arm64", "3.13/x86_64", "3.13/arm64"])
#: Two pure manifests, as idna and six would be.
IDNA = {"tinyutil": "1.0.0"}
SIX = {"Tiny-YAML": "6.0.0"}

#: (target, published, version, reason) per target; for a plan, the version it names
#: (the next one when it would publish).
Outcomes = list[tuple[str, bool, int | None, str]]


def _make(
    project: Path, layer_name: str, bucket: str, aws: AwsClients, **kw: object
) -> MakeWorkflow:
    return functools.partial(
        LayerWorkflow, project, layer_name, f"s3://{bucket}/app/lambda/", aws=aws, **kw
    )


def _planned(name: str, plan: Plan | None) -> tuple[str, bool, int | None, str]:
    assert plan is not None
    home = plan.home
    return (
        name,
        home.publish,
        home.next_version if home.publish else home.current_version,
        home.reason,
    )


def _plan(make: MakeWorkflow, targets: TargetSet) -> Outcomes:
    result = MatrixRun(make, targets).plan()
    assert result.ok
    return [_planned(o.target.name, o.result) for o in result]


def _run(make: MakeWorkflow, targets: TargetSet) -> Outcomes:
    result = MatrixRun(make, targets).run()
    assert result.ok, [o.error for o in result]
    return [
        (o.target.name, o.result.publish.published, o.result.publish.layer_version,
         o.result.publish.reason)
        for o in result
        if o.result is not None
    ]  # fmt: skip


def _plan_then_run(make: MakeWorkflow, targets: TargetSet) -> Outcomes:
    """``run``'s outcomes, checked to be what ``plan`` said just before."""
    planned = _plan(make, targets)
    ran = _run(make, targets)
    assert planned == ran
    return ran


def _backups(aws: AwsClients, bucket: str, layer_name: str, targets: TargetSet) -> dict[str, str]:
    """Each target's ``last-requirements.txt``, checked to be the backup of the newest
    version Lambda has for the target; returns the version each names."""
    named = {}
    for target in targets:
        newest = latest_layer_version(aws.lambda_, layer_name, target)
        assert newest is not None
        key = f"app/lambda/layer/targets/{target.name}/last-requirements.txt"
        last = aws.s3.get_object(Bucket=bucket, Key=key)
        backup = aws.s3.get_object(
            Bucket=bucket, Key=f"app/lambda/layer/{newest.version:06d}/requirements.txt"
        )
        assert last["Body"].read() == backup["Body"].read(), target.name
        named[target.name] = last["Metadata"]["layer-version"]
        assert named[target.name] == str(newest.version)
    return named


def _declared(
    aws: AwsClients, layer_name: str
) -> list[tuple[int, tuple[str, ...], tuple[str, ...]]]:
    return sorted(
        (v.version, v.runtimes, v.architectures) for v in list_versions(aws.lambda_, layer_name)
    )


def test_universal_then_one_target_then_universal_again_publishes_for_both(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(IDNA)
    make = _make(project, layer_name, bucket, aws)
    first = f"first version of layer {layer_name!r}"
    assert _plan(make, BOTH) == [
        ("python3.12-x86_64", True, 1, f"{first} for python3.12 x86_64"),
        ("python3.12-arm64", True, 1, f"{first} for python3.12 arm64"),
    ]
    assert _run(make, BOTH) == [
        (name, True, 1, f"{first} for python3.12 on arm64, x86_64 (universal)")
        for name in ("python3.12-x86_64", "python3.12-arm64")
    ]

    make_project(SIX)  # an arm64-only change
    plan = plan_run(make(target=ARM))
    alone = make(target=ARM).run().publish
    assert (plan.home.publish, plan.home.next_version, plan.home.reason) == (
        True, 2, "requirements.txt changed since version 1"
    )  # fmt: skip
    assert (alone.published, alone.layer_version, alone.reason) == (
        True, 2, "requirements.txt changed since version 1"
    )  # fmt: skip
    assert _backups(aws, bucket, layer_name, BOTH) == {
        "python3.12-x86_64": "1", "python3.12-arm64": "2"
    }  # fmt: skip

    make_project(IDNA)  # both again: arm64's newest (version 2) lacks it
    verdict = MatrixRun(make, BOTH).plan().universality
    assert verdict is not None and verdict.universal
    assert verdict.reason == "version 1 holds this manifest's universal layer for every target"
    reason = "requirements.txt changed since version 2 (python3.12-arm64)"
    assert _plan_then_run(make, BOTH) == [
        ("python3.12-x86_64", True, 3, reason),
        ("python3.12-arm64", True, 3, reason),
    ]
    assert _declared(aws, layer_name) == [
        (1, ("python3.12",), ("arm64", "x86_64")),
        (2, ("python3.12",), ("arm64",)),
        (3, ("python3.12",), ("arm64", "x86_64")),
    ]
    assert _backups(aws, bucket, layer_name, BOTH) == {
        "python3.12-x86_64": "3", "python3.12-arm64": "3"
    }  # fmt: skip

    unchanged = "requirements.txt and build options unchanged since version 3 (universal)"
    assert _plan_then_run(make, BOTH) == [
        ("python3.12-x86_64", False, 3, unchanged),
        ("python3.12-arm64", False, 3, unchanged),
    ]


def test_one_target_then_universal_publishes_one_version_for_both(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(IDNA)
    make = _make(project, layer_name, bucket, aws)
    assert make(target=ARM).run().publish.layer_version == 1

    # Only the builds tell whether x86_64's tree is arm64's: plan says so for arm64.
    first = f"first version of layer {layer_name!r} for python3.12 x86_64"
    assert _plan(make, BOTH) == [
        ("python3.12-x86_64", True, 2, first),
        (
            "python3.12-arm64",
            False,
            1,
            "requirements.txt and build options unchanged since version 1, or version 2 if the "
            "trees make one universal layer (known once built)",
        ),
    ]
    assert _run(make, BOTH) == [
        ("python3.12-x86_64", True, 2, first),
        ("python3.12-arm64", True, 2, first),
    ]
    assert _declared(aws, layer_name) == [
        (1, ("python3.12",), ("arm64",)),
        (2, ("python3.12",), ("arm64", "x86_64")),
    ]
    assert _backups(aws, bucket, layer_name, BOTH) == {
        "python3.12-x86_64": "2", "python3.12-arm64": "2"
    }  # fmt: skip


def test_targets_dropped_from_a_universal_set_then_back(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(IDNA)
    make = _make(project, layer_name, bucket, aws)
    assert {v for _, _, v, _ in _run(make, FOUR)} == {1}
    make_project(SIX)
    assert {v for _, _, v, _ in _plan_then_run(make, BOTH)} == {2}
    # The targets left out keep their newest version, and their backup.
    assert _backups(aws, bucket, layer_name, FOUR) == {
        "python3.12-x86_64": "2", "python3.12-arm64": "2",
        "python3.13-x86_64": "1", "python3.13-arm64": "1",
    }  # fmt: skip

    make_project(IDNA)  # version 1 serves python3.13 with it, not python3.12
    reason = "requirements.txt changed since version 2 (python3.12-x86_64)"
    assert _plan_then_run(make, FOUR) == [(t.name, True, 3, reason) for t in FOUR]
    assert _backups(aws, bucket, layer_name, FOUR) == {t.name: "3" for t in FOUR}


def test_a_universal_build_each_target_holds_at_another_version_moves_no_backup_back(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(IDNA)
    make = _make(project, layer_name, bucket, aws)
    assert {v for _, _, v, _ in _run(make, FOUR)} == {1}
    forced = _make(project, layer_name, bucket, aws, publish_options=PublishOptions(force=True))
    assert {v for _, _, v, _ in _run(forced, BOTH)} == {2}  # the same build, for python3.12

    # The universal layer's own workflow (what MatrixRun runs once a target changed).
    universal = make(universal=FOUR, build_folder="universal").run()

    assert not universal.publish.published
    assert universal.publish.layer_version == 2
    assert universal.publish.reason == (
        "requirements.txt and build options unchanged since version 2 (python3.12-x86_64, "
        "python3.12-arm64) and version 1 (python3.13-x86_64, python3.13-arm64)"
    )
    assert _backups(aws, bucket, layer_name, FOUR) == {
        "python3.12-x86_64": "2", "python3.12-arm64": "2",
        "python3.13-x86_64": "1", "python3.13-arm64": "1",
    }  # fmt: skip
    assert len(_declared(aws, layer_name)) == 2


def _version(
    number: int, fingerprint: str | None, manifest_sha256: str, *targets: LayerTarget
) -> PublishedVersion:
    stamp = VersionStamp(fingerprint, manifest_sha256) if fingerprint else None
    runtimes = tuple(sorted({t.runtime for t in targets}))
    architectures = tuple(sorted({t.architecture for t in targets}))
    return PublishedVersion(number, f"arn:{number}", stamp, runtimes, architectures)


@pytest.mark.parametrize(
    ("force", "arm_stamp", "expected"),
    [
        (False, "universal", (False, 1, "requirements.txt and build options unchanged since "
                              "version 1 (python3.12-x86_64) and version 2 (python3.12-arm64)")),
        (False, None, (True, 2, "version 2 was not published by layer_builder (python3.12-arm64)")),
        (False, "other", (True, 2, "the build or package options changed since version 2 "
                          "(python3.12-arm64)")),
        (True, "universal", (True, 1, "forced (--force) over version 1 (python3.12-x86_64)")),
    ],
)  # fmt: skip
def test_the_reason_names_the_target_when_the_targets_newest_versions_differ(
    tmp_path: Path, force: bool, arm_stamp: str | None, expected: tuple[bool, int, str]
) -> None:
    manifest = make_manifest(tmp_path)
    newest = {
        X86: _version(1, "universal", manifest.sha256, X86, ARM),
        ARM: _version(2, arm_stamp, manifest.sha256, ARM),
    }
    decision = compare(newest, "universal", manifest, "deps", force, "universal")
    assert decision.latest is not None
    assert (decision.publish, decision.latest.version, decision.reason) == expected
    assert decision.newest_at(2) == (ARM,)
