"""MatrixRun: several targets of one project, side by side or as one universal layer, against
the moto server and the local wheel index."""

from __future__ import annotations

import functools
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from layer_builder import (
    AwsClients,
    LayerTarget,
    LayerWorkflow,
    NoCompatibleWheelError,
    PublishOptions,
)
from layer_builder.errors import NotUniversalError
from layer_builder.matrix import MakeWorkflow, MatrixRun
from layer_builder.model import tree_state
from layer_builder.model.target import TargetSet
from layer_builder.model.zip_identity import ZipIdentity
from layer_builder.steps.publish.versions import list_versions
from tests.aws_helpers import object_keys
from tests.conftest import MakeProject, WheelIndex

PURE = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0"}
COMPILED = {"tinyutil": "1.0.0", "fastcalc": "1.0.0"}
FOUR = TargetSet.parse(["3.12/x86_64", "3.12/arm64", "3.13/x86_64", "3.13/arm64"])


def factory(
    project: Path, layer_name: str, bucket: str, aws: AwsClients, **kwargs: object
) -> MakeWorkflow:
    return functools.partial(
        LayerWorkflow, project, layer_name, f"s3://{bucket}/app/lambda/", aws=aws, **kwargs
    )


def test_compiled_targets_publish_one_version_each_then_rerun_as_no_ops(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(COMPILED)
    targets = TargetSet.parse(["3.12/x86_64", "3.12/arm64"])
    matrix = MatrixRun(factory(project, layer_name, bucket, aws), targets, workers=2)

    first = matrix.run()
    assert first.ok and not first.universal
    assert first.universality is not None and not first.universality.universal
    assert "fastcalc 1.0.0 is built for cp312-cp312-manylinux_2_17" in first.universality.reason
    versions = {}
    for outcome in first:
        assert outcome.result is not None and outcome.result.publish.published
        versions[outcome.target] = outcome.result.publish.layer_version
        # Each target has its own folder, tree and zip, holding its own shared object.
        assert outcome.result.package is not None
        path_zip = outcome.result.package.path_zip
        assert path_zip == project / f"build/lambda/{outcome.target.name}/layer/layer.zip"
        machine = outcome.target.machine
        with zipfile.ZipFile(path_zip) as zf:
            assert f"python/fastcalc/_speedups.cpython-312-{machine}-linux-gnu.so" in zf.namelist()
    assert sorted(versions.values()) == [1, 2]
    for version in list_versions(aws.lambda_, layer_name):
        target = next(t for t, v in versions.items() if v == version.version)
        assert (version.runtimes, version.architectures) == (
            (target.runtime,),
            (target.architecture,),
        )

    second = MatrixRun(factory(project, layer_name, bucket, aws), targets).run()
    assert second.ok and second.universality is None  # nothing built, nothing to judge
    for outcome in second:
        assert outcome.result is not None and outcome.result.skipped
        assert outcome.result.publish.layer_version == versions[outcome.target]


def test_pure_targets_share_one_universal_version(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    make = factory(project, layer_name, bucket, aws)
    matrix = MatrixRun(make, FOUR)

    result = matrix.run()
    assert result.ok and result.universal
    assert result.universality is not None
    assert result.universality.reason == (
        "every distribution is pure Python and the 4 trees are the same"
    )
    arns = {o.result.publish.layer_version_arn for o in result if o.result is not None}
    assert len(arns) == 1
    assert {o.result.publish.reason for o in result if o.result is not None} == {
        f"first version of layer '{layer_name}' for python3.12, python3.13 on arm64, x86_64 "
        "(universal)"
    }
    (version,) = list_versions(aws.lambda_, layer_name)
    assert version.runtimes == ("python3.12", "python3.13")
    assert version.architectures == ("arm64", "x86_64")
    shared = result.outcomes[0].result
    assert shared is not None and shared.package is not None
    # Zipped once, in its own folder, saying it is universal.
    assert shared.package.path_zip == project / "build/lambda/universal/layer/layer.zip"
    identity = ZipIdentity.read(shared.package.path_zip)
    assert identity is not None
    assert (identity.runtime, identity.architecture) == ("universal", "universal")
    # A fingerprint of its own, the same whichever target's workflow computes it.
    assert shared.fingerprint == matrix.universal_workflow.fingerprint
    assert {wf.universal_fingerprint for wf in matrix.workflows.values()} == {shared.fingerprint}
    assert shared.fingerprint not in {wf.fingerprint for wf in matrix.workflows.values()}
    # Each target's manifest key, as if each had published.
    keys = object_keys(aws, bucket, "app/lambda/layer/targets/")
    assert keys == sorted(f"app/lambda/layer/targets/{t.name}/last-requirements.txt" for t in FOUR)

    rerun = MatrixRun(make, FOUR).run()
    for outcome in rerun:
        assert outcome.result is not None and outcome.result.skipped
        assert outcome.result.publish.reason == (
            "requirements.txt and build options unchanged since version 1 (universal)"
        )

    # One target alone finds the universal version too: no version of its own.
    alone = LayerWorkflow(
        project, layer_name, f"s3://{bucket}/app/lambda/", LayerTarget("3.13", "arm64"), aws=aws
    ).run()
    assert alone.skipped and alone.publish.layer_version == 1


def test_a_universal_run_checks_the_bucket_once_and_reads_each_tree_once(
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    aws_operations: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = make_project(PURE)
    read: Counter[Path] = Counter()
    hash_file = tree_state.sha256_file

    def counted(path: Path) -> str:
        read[path] += 1
        return hash_file(path)

    monkeypatch.setattr(tree_state, "sha256_file", counted)
    result = MatrixRun(factory(project, layer_name, bucket, aws), FOUR).run()
    assert result.ok and result.universal
    # Once for the set: before, the universal layer's own run checked it again.
    assert aws_operations["HeadBucket"] == 1
    # Each tree compared before the build, then checked by the universal build step: the
    # files are read once, since the trees did not change in between.
    assert read and set(read.values()) == {1}
    folders = {p.relative_to(project / "build" / "lambda").parts[0] for p in read}
    assert folders == {t.name for t in FOUR}


def test_a_new_target_makes_a_new_universal_version_for_the_whole_set(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    make = factory(project, layer_name, bucket, aws)
    two = TargetSet.parse(["3.12/x86_64", "3.13/x86_64"])
    assert MatrixRun(make, two).run().universal
    three = TargetSet.parse(["3.12/x86_64", "3.13/x86_64", "3.14/x86_64"])
    result = MatrixRun(make, three).run()
    assert result.universal
    assert {o.result.publish.layer_version for o in result if o.result} == {2}
    newest = max(list_versions(aws.lambda_, layer_name), key=lambda v: v.version)
    assert newest.runtimes == ("python3.12", "python3.13", "python3.14")


def test_no_universal_publishes_one_version_per_target(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    options = PublishOptions(universal=False)
    make = factory(project, layer_name, bucket, aws, publish_options=options)
    result = MatrixRun(make, FOUR).run()
    assert result.ok and not result.universal
    assert result.universality is not None
    assert result.universality.reason == "turned off (--no-universal)"
    assert sorted(o.result.publish.layer_version for o in result if o.result) == [1, 2, 3, 4]


def test_a_universal_version_is_not_unchanged_for_a_per_target_run_that_refuses_it(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    assert MatrixRun(factory(project, layer_name, bucket, aws), FOUR).run().universal
    alone = LayerWorkflow(
        project,
        layer_name,
        f"s3://{bucket}/app/lambda/",
        LayerTarget("3.12", "arm64"),
        aws=aws,
        publish_options=PublishOptions(universal=False),
    ).run()
    assert alone.publish.published and alone.publish.layer_version == 2
    assert alone.publish.reason == "the build or package options changed since version 1"


def test_targets_that_are_not_every_pairing_are_not_universal(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    targets = TargetSet.parse(["3.12/x86_64", "3.13/arm64"])
    result = MatrixRun(factory(project, layer_name, bucket, aws), targets).run()
    assert result.ok and not result.universal
    assert result.universality is not None
    assert result.universality.reason == (
        "the targets (python3.12-x86_64, python3.13-arm64) are not every pairing of their "
        "runtimes and architectures, which one version would declare"
    )


def test_trees_that_differ_by_an_environment_marker_are_not_universal(
    tmp_path: Path, wheel_index: WheelIndex, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "markers"
    project.mkdir()
    hashes = "".join(f" --hash=sha256:{h}" for h in wheel_index.hashes_of("tinyutil", "1.0.0"))
    yaml = "".join(f" --hash=sha256:{h}" for h in wheel_index.hashes_of("Tiny-YAML", "6.0.0"))
    # Tiny-YAML on both: a tree with nothing to import would be refused, not compared.
    (project / "requirements.txt").write_text(
        f'tinyutil==1.0.0 ; python_version < "3.13"{hashes}\nTiny-YAML==6.0.0{yaml}\n'
    )
    targets = TargetSet.parse(["3.12/x86_64", "3.13/x86_64"])
    result = MatrixRun(factory(project, layer_name, bucket, aws), targets).run()
    assert result.ok and not result.universal
    assert result.universality is not None
    assert result.universality.reason.startswith(
        "the trees of python3.12-x86_64 and python3.13-x86_64 differ"
    )
    assert len(list(list_versions(aws.lambda_, layer_name))) == 2


def test_a_failed_target_does_not_hide_the_others(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(COMPILED)
    # fastcalc has wheels for cp311 and cp312 only.
    targets = TargetSet.parse(["3.12/x86_64", "3.13/x86_64", "3.12/arm64"])
    result = MatrixRun(factory(project, layer_name, bucket, aws), targets, workers=2).run()
    assert not result.ok
    (failed,) = result.failed
    assert failed.target == LayerTarget("3.13", "x86_64")
    assert isinstance(failed.error, NoCompatibleWheelError)
    assert "fastcalc" in str(failed.error)
    published = [o for o in result if o.ok]
    assert [o.target.name for o in published] == ["python3.12-x86_64", "python3.12-arm64"]
    assert all(o.result is not None and o.result.publish.published for o in published)


def test_build_then_package_zips_a_universal_tree_once(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    matrix = MatrixRun(factory(project, layer_name, bucket, aws), FOUR)
    built = matrix.build()
    assert built.ok and built.universality is not None and built.universality.universal
    for outcome in built:
        assert outcome.result is not None
        assert outcome.result.dir_python == (
            project / f"build/lambda/{outcome.target.name}/layer/artifacts/python"
        )
    packaged = matrix.package()
    assert packaged.ok and packaged.universal
    assert {o.result.path_zip for o in packaged if o.result} == {
        project / "build/lambda/universal/layer/layer.zip"
    }
    # The single-target folder is left alone.
    assert not (project / "build/lambda/layer").exists()


def test_a_universal_workflow_refuses_compiled_trees(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(COMPILED)
    targets = TargetSet.parse(["3.12/x86_64", "3.12/arm64"])
    workflow = LayerWorkflow(
        project,
        layer_name,
        f"s3://{bucket}/a/",
        aws=aws,
        universal=targets,
        build_folder="universal",
    )
    with pytest.raises(NotUniversalError) as caught:
        workflow.run()
    assert str(caught.value) == (
        "one zip cannot serve python3.12-x86_64, python3.12-arm64: fastcalc 1.0.0 is built for "
        "cp312-cp312-manylinux_2_17_x86_64 (python3.12-x86_64): publish one layer version per "
        "target (--no-universal)"
    )
    assert list(list_versions(aws.lambda_, layer_name)) == []


def test_plan_of_each_target_after_a_universal_version(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    make = factory(project, layer_name, bucket, aws)
    assert MatrixRun(make, FOUR).run().universal
    more = TargetSet([*FOUR, LayerTarget("3.14", "arm64")])
    plans = MatrixRun(make, more).plan()
    assert plans.ok
    by_target = {o.target.name: o.result for o in plans}
    for target in FOUR:
        plan = by_target[target.name]
        assert plan is not None and not plan.home.publish and plan.home.current_version == 1
    newcomer = by_target["python3.14-arm64"]
    assert newcomer is not None and newcomer.home.publish
