"""Several targets in one command: --target, targets = [...], the --json list, the table, the
exit code, and the outputs for infrastructure code."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from layer_builder import AwsClients, LocalAwsEndpoint
from layer_builder.cli.several import error_text
from layer_builder.steps.publish.versions import list_versions
from tests.aws_helpers import object_keys
from tests.cli.test_cli import Outcome
from tests.conftest import MakeProject
from tests.pause_hook import CliChild

PURE = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0"}
COMPILED = {"tinyutil": "1.0.0", "fastcalc": "1.0.0"}
FOUR = ["--target", "3.12/x86_64", "--target", "3.12/arm64",
        "--target", "3.13/x86_64", "--target", "3.13/arm64"]  # fmt: skip


def listing(outcome: Outcome) -> list[dict[str, Any]]:
    """stdout holds exactly one JSON list (one line)."""
    assert outcome.out.count("\n") == 1, outcome.out
    data = json.loads(outcome.out)
    assert isinstance(data, list)
    return data


def aws_args(layer_name: str, bucket: str) -> list[str]:
    return ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/app/lambda/"]


@pytest.mark.usefixtures("aws_env")
def test_run_of_pure_targets_publishes_one_universal_version_then_no_ops(
    cli: Any, make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    first = cli("run", "--project", project, *aws_args(layer_name, bucket), *FOUR, "--json")
    assert first.code == 0, first.err
    entries = listing(first)
    assert [e["target"] for e in entries] == [
        "python3.12-x86_64", "python3.12-arm64", "python3.13-x86_64", "python3.13-arm64"
    ]  # fmt: skip
    assert all(e["ok"] and e["universal"] and e["published"] for e in entries)
    assert {e["layer_version"] for e in entries} == {1}
    assert {e["error"] for e in entries} == {None}
    version = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert version["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert sorted(version["CompatibleArchitectures"]) == ["arm64", "x86_64"]
    # Log lines say which target they are about.
    assert "layer-builder: python3.12-arm64: " in first.err

    second = cli("run", "--project", project, *aws_args(layer_name, bucket), *FOUR)
    assert second.code == 0, second.err
    lines = second.out.splitlines()
    assert lines[0].split() == ["target", "outcome", "version", "reason"]
    assert lines[1].split()[:4] == ["python3.12-x86_64", "unchanged", "(universal)", "1"]
    assert lines[1].endswith("unchanged since version 1 (universal)")
    assert f"python3.13-arm64: arn:aws:lambda:us-east-1:123456789012:layer:{layer_name}:1" in lines


@pytest.mark.usefixtures("aws_env")
def test_a_failed_target_is_reported_with_the_others_and_the_exit_code_is_1(
    cli: Any, make_project: MakeProject, bucket: str, layer_name: str
) -> None:
    project = make_project(COMPILED)
    targets = ["--target", "3.12/x86_64", "--target", "3.13/x86_64", "--target", "3.12/arm64"]
    result = cli("run", "--project", project, *aws_args(layer_name, bucket), *targets, "--json")
    assert result.code == 1
    entries = listing(result)
    assert [(e["target"], e["ok"]) for e in entries] == [
        ("python3.12-x86_64", True), ("python3.13-x86_64", False), ("python3.12-arm64", True)
    ]  # fmt: skip
    failed = entries[1]
    assert failed["error"] == (
        "a dependency cannot be installed for python3.13 x86_64 (manylinux glibc <= 2.34): "
        "fastcalc 1.0.0: its wheels are for cp311, cp312, none for python3.13 (cp313); build "
        "in a container (--container docker) or choose another target"
    )
    assert "layer_version_arn" not in failed
    assert sorted(e["layer_version"] for e in entries if e["ok"]) == [1, 2]
    errors = [line for line in result.err.splitlines() if line.startswith("layer-builder: error:")]
    assert errors == [f"layer-builder: error: python3.13-x86_64: {failed['error'].splitlines()[0]}"]


def test_targets_from_pyproject_build_one_folder_each_and_the_command_line_replaces_them(
    cli: Any, make_project: MakeProject
) -> None:
    project = make_project(
        PURE, pyproject_extra='\n[tool.layer_builder]\ntargets = ["3.12/x86_64", "3.13/arm64"]\n'
    )
    built = cli("build", "--project", project, "--json")
    assert built.code == 0, built.err
    entries = listing(built)
    assert [e["dir_python"] for e in entries] == [
        str(project / f"build/lambda/{name}/layer/artifacts/python")
        for name in ("python3.12-x86_64", "python3.13-arm64")
    ]
    assert {e["universal"] for e in entries} == {False}  # judged only when publishing
    human = cli("build", "--project", project)
    assert human.out.splitlines()[-1] == (
        "not universal: the targets (python3.12-x86_64, python3.13-arm64) are not every pairing "
        "of their runtimes and architectures, which one version would declare"
    )
    # One target on the command line: today's single-target folder.
    one = cli("build", "--project", project, "--python", "3.13", "--json")
    assert one.code == 0, one.err
    assert one.json["dir_python"] == str(project / "build/lambda/layer/artifacts/python")
    assert one.json["runtime"] == "python3.13"


def test_build_then_package_of_pure_targets_zips_once(
    cli: Any, make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project(PURE)
    targets = ["--target", "3.12/x86_64", "--target", "3.12/arm64"]
    built = cli("build", "--project", project, *targets)
    assert built.code == 0, built.err
    assert built.out.splitlines()[-1] == (
        "universal: every distribution is pure Python and the 2 trees are the same"
    )
    report = tmp_path / "size.html"
    packaged = cli("package", "--project", project, *targets, "--json", "--report", report)
    assert packaged.code == 0, packaged.err
    entries = listing(packaged)
    zip_path = str(project / "build/lambda/universal/layer/layer.zip")
    assert [(e["universal"], e["path"]) for e in entries] == [(True, zip_path)] * 2
    assert {e["report"] for e in entries} == {str(tmp_path / "size-universal.html")}
    assert (tmp_path / "size-universal.html").is_file()

    apart = cli("package", "--project", project, *targets, "--no-universal", "--json")
    assert apart.code == 0, apart.err
    assert [e["path"] for e in listing(apart)] == [
        str(project / f"build/lambda/{name}/layer/layer.zip")
        for name in ("python3.12-x86_64", "python3.12-arm64")
    ]


@pytest.mark.usefixtures("aws_env")
def test_plan_of_several_targets(
    cli: Any, make_project: MakeProject, bucket: str, layer_name: str
) -> None:
    project = make_project(PURE)
    targets = ["--target", "3.12/x86_64", "--target", "3.12/arm64"]
    assert cli("run", "--project", project, *aws_args(layer_name, bucket), *targets).code == 0
    more = [*targets, "--target", "3.14/arm64"]
    plan = cli("plan", "--project", project, *aws_args(layer_name, bucket), *more, "--json")
    assert plan.code == 0, plan.err
    entries = listing(plan)
    assert [(e["target"], e["publish"], e["current_version"]) for e in entries] == [
        ("python3.12-x86_64", False, 1), ("python3.12-arm64", False, 1),
        ("python3.14-arm64", True, None),
    ]  # fmt: skip
    human = cli("plan", "--project", project, *aws_args(layer_name, bucket), *more)
    assert human.out.splitlines()[3].split()[:3] == ["python3.14-arm64", "publish", "-"]


@pytest.mark.usefixtures("aws_env")
def test_outputs_of_several_targets(
    cli: Any,
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = make_project(COMPILED)
    targets = ["--target", "3.12/x86_64", "--target", "3.12/arm64"]
    base = ["run", "--project", project, *aws_args(layer_name, bucket), *targets]
    same = cli(*base, "--ssm-parameter", "/layers/{layer_name}")
    assert same.error == (
        "--ssm-parameter '/layers/{layer_name}' gives python3.12-x86_64 and python3.12-arm64 "
        f"the same parameter /layers/{layer_name}: put {{target}} in it (e.g. "
        "'/layers/{layer_name}/{target}')"
    )
    github = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github))
    ran = cli(*base, "--ssm-parameter", "/layers/{layer_name}/{target}", "--github-output",
              "--json-strings")  # fmt: skip
    assert ran.code == 0, ran.err
    flat = json.loads(ran.out)
    assert all(isinstance(v, str) for v in flat.values())
    assert flat["targets"] == "python3.12-x86_64,python3.12-arm64"
    assert flat["failed"] == ""
    arns = {
        name: flat[f"layer_version_arn_{name}"]
        for name in ("python3_12_x86_64", "python3_12_arm64")
    }
    assert sorted(arns.values()) == [
        f"arn:aws:lambda:us-east-1:123456789012:layer:{layer_name}:{n}" for n in (1, 2)
    ]
    for name, suffix in (
        ("python3.12-x86_64", "python3_12_x86_64"),
        ("python3.12-arm64", "python3_12_arm64"),
    ):
        parameter = aws.ssm.get_parameter(Name=f"/layers/{layer_name}/{name}")["Parameter"]
        assert parameter["Value"] == arns[suffix]
    written = github.read_text()
    assert f"layer_version_arn_python3_12_arm64={arns['python3_12_arm64']}\n" in written
    assert "published_python3_12_x86_64=true\n" in written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--python", "3.12", "--python", "3.13"],
            "--python given 2 times (3.12, 3.13): one --python names one target; for several, "
            "repeat --target instead (e.g. --target 3.12/x86_64 --target 3.13/arm64)",
        ),
        (
            ["--arch", "arm64", "--arch", "x86_64"],
            "--arch given 2 times (arm64, x86_64): one --arch names one target; for several, "
            "repeat --target instead (e.g. --target 3.12/x86_64 --target 3.13/arm64)",
        ),
        (
            ["--target", "3.12/arm64", "--python", "3.13"],
            "--target and --python/--arch both given: name each target with --target "
            "PYTHON/ARCH alone (e.g. --target 3.12/arm64)",
        ),
        (
            ["--target", "3.9/arm64"],
            "invalid target '3.9/arm64': Lambda has no Python 3.9 runtime: choose 3.10, 3.11, "
            "3.12, 3.13, 3.14 (e.g. --target 3.12/arm64)",
        ),
        (
            ["--target", "3.12/amd64"],
            "invalid target '3.12/amd64': unknown architecture 'amd64': choose x86_64 or arm64 "
            "(e.g. --target 3.12/arm64)",
        ),
        (
            ["--target", "arm64"],
            "invalid target 'arm64': write PYTHON/ARCH, e.g. --target 3.12/arm64 or "
            'targets = ["3.12/x86_64", "3.13/arm64"]',
        ),
    ],
)
def test_target_flags_refused(
    cli: Any, make_project: MakeProject, args: list[str], message: str
) -> None:
    project = make_project(PURE)
    assert cli("build", "--project", project, *args).error == message


def test_commands_of_one_target_refuse_several(cli: Any, make_project: MakeProject) -> None:
    project = make_project(PURE)
    refused = cli("upload", "--project", project, "--s3dir", "s3://some-bucket/a/",
                  "--target", "3.12/x86_64", "--target", "3.13/x86_64")  # fmt: skip
    assert refused.error == (
        "upload works on one target's zip and 2 targets were given (python3.12-x86_64, "
        "python3.13-x86_64): pass one --target, or use `layer-builder run`, which builds, "
        "uploads and publishes every target"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'targets = ["3.12/arm64"]\npython = "3.12"',
            "[tool.layer_builder] of {pyproject} sets both targets and python/arch: keep one, "
            'e.g. targets = ["3.12/x86_64", "3.13/arm64"]',
        ),
        (
            "targets = []",
            'no target: give at least one, e.g. --target 3.12/x86_64 or targets = ["3.12/x86_64"]',
        ),
        (
            'targets = "3.12/arm64"',
            "[tool.layer_builder] targets in {pyproject} must be an array, not a string",
        ),
    ],
)
def test_targets_in_pyproject_refused(
    cli: Any, make_project: MakeProject, table: str, message: str
) -> None:
    project = make_project(PURE, pyproject_extra=f"\n[tool.layer_builder]\n{table}\n")
    refused = cli("build", "--project", project)
    assert refused.error == message.format(pyproject=project / "pyproject.toml")


@pytest.mark.usefixtures("aws_env")
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_lets_the_targets_under_way_finish_and_leaves_no_lock(
    make_project: MakeProject,
    tmp_path: Path,
    moto_endpoint: LocalAwsEndpoint,
    bucket: str,
    layer_name: str,
) -> None:
    project = make_project(COMPILED)
    args = ["run", "--project", project, *aws_args(layer_name, bucket),
            "--target", "3.12/x86_64", "--target", "3.12/arm64"]  # fmt: skip
    # The first target to publish stops right before PublishLayerVersion, holding the lock.
    child = CliChild(tmp_path / "run", args, operation="PublishLayerVersion")
    aws = moto_endpoint.clients()
    try:
        child.wait_until_paused()
        child.process.send_signal(signal.SIGTERM)
        child.wait_for_stderr("stopping: the targets not started are cancelled; waiting for")
        child.resume()
        code = child.wait()
    finally:
        child.stop()

    assert code == 143, child.stderr
    assert "layer-builder: stopped by SIGTERM; cleaned up" in child.stderr
    keys = object_keys(aws, bucket, "app/lambda/layer/")
    assert "app/lambda/layer/.publish.lock" not in keys
    # What was under way finished whole: each version has its manifest backup.
    versions = list(list_versions(aws.lambda_, layer_name))
    assert versions
    for version in versions:
        assert f"app/lambda/layer/{version.version:06d}/requirements.txt" in keys


def test_each_targets_error_is_one_line_whatever_raised_it() -> None:
    # A target's failure must not hide the others', so any exception becomes its line.
    refused = PermissionError(13, "Permission denied", "/srv/app/build/lambda")
    assert error_text(refused) == (
        "Permission denied: /srv/app/build/lambda: check that path (permissions, free space, "
        "a file in the way of a folder)"
    )
    assert error_text(RuntimeError("boom")) == (
        "unexpected RuntimeError: boom (run with -v for the traceback)"
    )
