"""Several ``layer-builder`` processes in one project folder, and links in the way: real CLI
processes against the moto server, synchronised by files and pipes, never by time."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

from layer_builder import AwsClients, LayerPathLayout
from layer_builder.steps.publish.step import layer_code_sha256
from tests.cli.test_cli import run_subprocess
from tests.conftest import MakeProject
from tests.processes import Holder, add_blobs, leftovers, sha256_of, start, tree_members

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock and POSIX signals")

PINS = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0"}


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("warm", [True, False], ids=["warm-build", "fresh-build"])
def test_two_runs_in_one_folder_publish_one_sound_version(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, warm: bool
) -> None:
    project = make_project(PINS)
    layout = LayerPathLayout(project)
    if warm:
        assert run_subprocess("build", "--project", project).code == 0
        add_blobs(layout.dir_python, 8)  # both runs zip at once for a while
    args = ["run", "--project", project, "--layer-name", layer_name,
            "--s3dir", f"s3://{bucket}/app/lambda/", "--json"]  # fmt: skip
    first, second = start(*args), start(*args)
    outcomes = [process.communicate(timeout=300) for process in (first, second)]
    for process, (_, err) in zip((first, second), outcomes, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err
    results = [json.loads(out) for out, _ in outcomes]
    assert sorted(r["published"] for r in results) == [False, True]
    path_zip = layout.path_layer_zip
    with zipfile.ZipFile(path_zip) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == tree_members(layout.dir_python)
    assert "python/tinyhttp/__init__.py" in tree_members(layout.dir_python)
    versions = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    assert layer_code_sha256(aws.lambda_, layer_name, 1) == sha256_of(path_zip)
    assert {r["layer_version"] for r in results} == {1}
    assert leftovers(project) == []


def test_package_waits_for_the_holder_and_names_it(make_project: MakeProject) -> None:
    project = make_project(PINS)
    assert run_subprocess("build", "--project", project).code == 0
    layout = LayerPathLayout(project)
    holder = Holder(layout.path_lock)
    try:
        package = start("package", "--project", project, "--json")
        assert package.stderr is not None
        line = package.stderr.readline()  # blocks until the run says it waits
        if line.startswith("layer-builder: using "):  # the target the build remembered
            line = package.stderr.readline()
        assert line.startswith(f"layer-builder: waiting for layer-builder pid {holder.pid} "
                               f"(test holder, started "), line  # fmt: skip
        assert line.rstrip().endswith(f") in this folder: {layout.path_lock}")
        assert package.poll() is None
        assert not layout.path_layer_zip.exists(), "nothing done while the lock is held"
        holder.release()
        out, err = package.communicate(timeout=300)
    finally:
        if holder.process.poll() is None:
            holder.process.kill()
    assert package.returncode == 0, err
    assert json.loads(out)["path"] == str(layout.path_layer_zip)
    assert "waiting" not in err, "said once"


def test_the_instant_no_op_takes_no_lock(
    make_project: MakeProject, bucket: str, layer_name: str, aws_env: None
) -> None:
    project = make_project(PINS)
    args = ["run", "--project", project, "--layer-name", layer_name,
            "--s3dir", f"s3://{bucket}/app/lambda/", "--json"]  # fmt: skip
    assert run_subprocess(*args).code == 0
    holder = Holder(LayerPathLayout(project).path_lock)
    try:
        again = run_subprocess(*args)  # would wait forever if it took the lock
    finally:
        holder.release()
    assert again.code == 0, again.err
    assert again.json["skipped"] is True
    assert "waiting" not in again.err


def test_links_at_the_zip_names_are_replaced_never_written_through(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project(PINS)
    assert run_subprocess("build", "--project", project).code == 0
    layout = LayerPathLayout(project)
    outside = {}
    names = ("layer.zip.partial", "layer.zip", "layer.zip.reuse.json", "sbom.cdx.json")
    for name in names:
        target = tmp_path / f"outside-{name}"
        target.write_bytes(b"precious " + name.encode())
        outside[target] = target.read_bytes()
        (layout.dir_build / name).symlink_to(target)
    packaged = run_subprocess("package", "--project", project, "--json")
    assert packaged.code == 0, packaged.err
    for target, content in outside.items():
        assert target.read_bytes() == content
    assert not (layout.dir_build / "layer.zip.partial").exists()
    for name in names[1:]:
        assert not (layout.dir_build / name).is_symlink()
        assert (layout.dir_build / name).is_file()
    with zipfile.ZipFile(layout.path_layer_zip) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == tree_members(layout.dir_python)
    assert packaged.json["zip_sha256"] == sha256_of(layout.path_layer_zip)
