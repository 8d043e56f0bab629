"""``--local`` across processes: a rerun sees what the first run published, and moto's own
output never reaches the terminal."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import Outcome, run_subprocess
from tests.conftest import MakeProject

PINS = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0"}
CONFIG = '\n[tool.layer_builder]\nlayer_name = "local_state_deps"\ns3dir = "{s3dir}"\n'


def assert_quiet_stderr(outcome: Outcome) -> None:
    """Every stderr line is layer-builder's own: no moto or werkzeug line, no traceback."""
    lines = outcome.err.splitlines()
    assert all(line.startswith("layer-builder: ") for line in lines), outcome.err
    for word in ("Traceback", "werkzeug", "moto.", "Error on request"):
        assert word not in outcome.err, outcome.err


def state_folder(project: Path) -> Path:
    return project / "build" / "lambda" / "local-aws"


def test_local_rerun_is_unchanged_and_moto_stays_off_stderr(make_project: MakeProject) -> None:
    project = make_project(
        {"tinyutil": "1.0.0"}, pyproject_extra=CONFIG.format(s3dir="s3://local-state/app/")
    )
    first = run_subprocess("run", "--local", "--project", project)
    assert first.code == 0, first.err
    assert first.out.startswith("published: arn:aws:lambda:us-east-1:123456789012:layer:")
    assert_quiet_stderr(first)

    second = run_subprocess("run", "--local", "--project", project)
    assert second.code == 0, second.err
    assert second.out.splitlines()[0] == (
        "unchanged, not published: arn:aws:lambda:us-east-1:123456789012:layer:local_state_deps:1"
    )
    assert_quiet_stderr(second)
    assert "restored the state saved in" in second.err
    # The rerun changed nothing: the state file is the one the first run wrote.
    assert "saved its state" in first.err and "saved its state" not in second.err


def test_two_targets_rerun_publishes_nothing(make_project: MakeProject) -> None:
    project = make_project(PINS, pyproject_extra=CONFIG.format(s3dir="s3://local-two/app/"))
    args = ["run", "--local", "--project", project, "--json",
            "--target", "3.12/x86_64", "--target", "3.12/arm64"]  # fmt: skip
    first = run_subprocess(*args)
    assert first.code == 0, first.err
    published = json.loads(first.out)
    assert [e["published"] for e in published] == [True, True]
    assert_quiet_stderr(first)

    second = run_subprocess(*args)
    assert second.code == 0, second.err
    again = json.loads(second.out)
    assert [e["published"] for e in again] == [False, False]
    assert [e["layer_version_arn"] for e in again] == [e["layer_version_arn"] for e in published]
    assert_quiet_stderr(second)
    # One blob per distinct content: each zip is in S3 twice (its own key and layer.zip of
    # its target) and in a layer version, and stored once.
    blobs = [p for p in (state_folder(project) / "state.blobs").iterdir() if p.name != "lock"]
    zips = {e["zip_sha256"] for e in published}
    assert zips <= {p.name for p in blobs}
    state = (state_folder(project) / "state.jsonl").read_text()
    assert len(state) < 64 * 1024  # bodies are blobs, not lines


def test_local_home_region_and_an_extra_region_each_get_their_bucket(
    make_project: MakeProject,
) -> None:
    """Each bucket is created, and recreated from the state, in its own region."""
    project = make_project({"tinyutil": "1.0.0"})
    args = ["run", "--local", "--project", project, "--layer-name", "regions_deps",
            "--s3dir", "s3://local-home-eu/app/", "--region", "eu-west-1",
            "--replicate-to", "us-west-2=s3://local-extra-us/app/", "--json"]  # fmt: skip
    first = run_subprocess(*args)
    assert first.code == 0, first.err
    assert_quiet_stderr(first)
    published = json.loads(first.out)
    assert published["layer_version_arn"].startswith("arn:aws:lambda:eu-west-1:")
    assert [r["layer_version_arn"] for r in published["regions"]] == [
        "arn:aws:lambda:us-west-2:123456789012:layer:regions_deps:1"
    ]

    second = run_subprocess(*args)
    assert second.code == 0, second.err
    assert_quiet_stderr(second)
    assert json.loads(second.out)["published"] is False
    state = (state_folder(project) / "state.jsonl").read_text()
    buckets = [json.loads(line) for line in state.splitlines() if '"local-' in line]
    assert {(b["name"], b["region"]) for b in buckets if "region" in b} == {
        ("local-home-eu", "eu-west-1"),
        ("local-extra-us", "us-west-2"),
    }
