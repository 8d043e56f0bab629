"""``layer_builder.cdk.PythonLayerVersion`` in a real CDK app synthesized by aws-cdk-lib (its
code runs in node): the template's LayerVersion, the asset CDK copies, its hash across
synths, and the alpha construct's parameters."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layer_builder import NotUniversalError
from layer_builder.errors import ConfigurationError
from tests.cdk.cdk_app import asset_key, synth_layers
from tests.conftest import MakeProject
from tests.small_index import SmallIndex, serve_wheels
from tests.wheelhouse import WHEELS, WheelSpec

# Node 20 is past its end of life for jsii, which says so in a banner on every start.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("cdk")]

ROOT = Path(__file__).resolve().parents[2]
#: The alpha construct's keyword parameters (aws_cdk.aws_lambda_python_alpha 2.x).
ALPHA_PARAMETERS = ["entry", "bundling", "compatible_architectures", "compatible_runtimes",
                    "description", "layer_version_name", "license", "removal_policy"]  # fmt: skip
BOTO3 = WheelSpec("boto3", "99.0.0", files={"boto3/__init__.py": b"FAKE = True\n"})


@pytest.fixture(scope="module")
def boto3_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallIndex]:
    """fastcalc's cp312 wheels (x86_64 and aarch64) and a stand-in for boto3."""
    specs = [w for w in WHEELS if w.name == "fastcalc" and "cp312" in w.tag]
    with serve_wheels([*specs, BOTO3], tmp_path_factory.mktemp("boto3-index")) as index:
        yield index


def lambda_module() -> Any:
    from aws_cdk import aws_lambda

    return aws_lambda


def members(path: str | Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_an_arm64_layer_synthesizes_on_this_host_with_no_docker(
    tmp_path: Path, boto3_index: SmallIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = tmp_path / "layer"
    entry.mkdir()
    (entry / "requirements.txt").write_text(boto3_index.requirements("fastcalc", "boto3"))
    # A PATH with no docker on it, and a docker that would leave a trace if anything ran it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    trace = tmp_path / "docker-was-run"
    (bin_dir / "docker").write_text(f"#!/bin/sh\ntouch {trace}\nexit 1\n")
    (bin_dir / "docker").chmod(0o755)
    kept = [p for p in os.environ["PATH"].split(os.pathsep) if not shutil.which("docker", path=p)]
    path = os.pathsep.join([*kept, str(bin_dir)])
    assert shutil.which("docker", path=os.pathsep.join(kept)) is None
    env = {**os.environ, "PATH": path, "PIP_INDEX_URL": boto3_index.url}
    outdir = tmp_path / "cdk.out"
    process = subprocess.run(
        [sys.executable, "-m", "tests.cdk.cdk_app", str(entry), "3.12", "arm64", str(outdir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout)
    (layer,) = report["layers"].values()
    assert (layer["runtimes"], layer["architectures"]) == (["python3.12"], ["arm64"])
    assert layer["s3_key"] == asset_key(report["fingerprint"])
    names = members(layer["asset"])
    assert "python/fastcalc/_speedups.cpython-312-aarch64-linux-gnu.so" in names
    assert not [n for n in names if n.endswith(".so") and "aarch64" not in n]
    assert not [n for n in names if n.startswith("python/boto3")], "the runtime provides boto3"
    with zipfile.ZipFile(layer["asset"]) as zf:
        so = zf.read("python/fastcalc/_speedups.cpython-312-aarch64-linux-gnu.so")
    assert so.startswith(b"\x7fELF") and b"aarch64" in so
    assert not trace.exists()


def test_the_same_lock_gives_the_same_asset_hash_and_a_change_a_new_one(
    tmp_path: Path, make_project: MakeProject
) -> None:
    from layer_builder.cdk import PythonLayerVersion

    lambda_ = lambda_module()
    project = make_project({"fastcalc": "1.0.0"})

    def define(stack: Any) -> None:
        PythonLayerVersion(stack, "Deps", entry=str(project),
                           compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
                           compatible_architectures=[lambda_.Architecture.ARM_64])  # fmt: skip

    first = synth_layers(tmp_path / "one", define)
    shutil.rmtree(project / "build")  # a fresh checkout: built again from scratch
    second = synth_layers(tmp_path / "two", define)
    assert [layer["s3_key"] for layer in first.values()] == [
        layer["s3_key"] for layer in second.values()
    ]
    (project / "requirements.txt").write_text("fastcalc==1.0.0\ntinyutil==1.0.0\n")
    third = synth_layers(tmp_path / "three", define)
    (old,), (new,) = first.values(), third.values()
    assert new["s3_key"] != old["s3_key"]
    assert "python/tinyutil/__init__.py" in members(new["asset"])


def test_the_alpha_constructs_parameters_reach_the_template(
    tmp_path: Path, make_project: MakeProject
) -> None:
    import aws_cdk as cdk

    from layer_builder.cdk import PythonLayerVersion

    parameters = list(inspect.signature(PythonLayerVersion.__init__).parameters)
    assert parameters[3 : 3 + len(ALPHA_PARAMETERS)] == ALPHA_PARAMETERS
    project = make_project({"tinyutil": "1.0.0"})

    def define(stack: Any) -> None:
        PythonLayerVersion(stack, "Deps", entry=str(project), description="deps of my_app",
                           layer_version_name="my_app_deps", license="MIT",
                           removal_policy=cdk.RemovalPolicy.RETAIN)  # fmt: skip

    outdir = tmp_path / "out"
    (layer,) = synth_layers(outdir, define).values()
    # Nothing declared: layer_builder's default target (the alpha's is python3.7).
    assert (layer["runtimes"], layer["architectures"]) == (["python3.12"], ["x86_64"])
    assert layer["description"] == "deps of my_app"
    template = json.loads((outdir / "LayersStack.template.json").read_text())
    (resource,) = template["Resources"].values()
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["Properties"]["LayerName"] == "my_app_deps"
    assert resource["Properties"]["LicenseInfo"] == "MIT"


def test_bundling_maps_its_asset_hash_options_and_refuses_the_rest(
    tmp_path: Path, make_project: MakeProject
) -> None:
    import aws_cdk as cdk

    from layer_builder.cdk import PythonLayerVersion

    project = make_project({"tinyutil": "1.0.0"})
    layers: dict[str, Any] = {}

    def define(stack: Any) -> None:
        layers["custom"] = PythonLayerVersion(
            stack, "Custom", entry=str(project), bundling={"asset_hash": "release-7"}
        )
        layers["output"] = PythonLayerVersion(
            stack, "Output", entry=str(project),
            bundling={"asset_hash_type": cdk.AssetHashType.OUTPUT},
        )  # fmt: skip
        with pytest.raises(ConfigurationError) as refused:
            PythonLayerVersion(stack, "Docker", entry=str(project),
                               bundling={"image": object(), "command_hooks": object()})  # fmt: skip
        layers["refused"] = str(refused.value)
        with pytest.raises(ConfigurationError) as custom:
            PythonLayerVersion(stack, "NoHash", entry=str(project),
                               bundling={"asset_hash_type": cdk.AssetHashType.CUSTOM})  # fmt: skip
        layers["no_hash"] = str(custom.value)

    synthesized = synth_layers(tmp_path / "out", define)
    keys = {layer["s3_key"] for layer in synthesized.values()}
    assert keys == {asset_key("release-7"), asset_key(layers["output"].layer_asset.zip_sha256)}
    assert layers["refused"] == (
        "PythonLayerVersion 'Docker': bundling={command_hooks, image} configures the alpha "
        "construct's Docker build, and layer_builder builds without Docker: drop it "
        "(build_options= and package_options= set the install and the zip)"
    )
    assert layers["no_hash"] == (
        "PythonLayerVersion 'NoHash': asset_hash_type CUSTOM needs asset_hash in bundling"
    )


def test_declared_runtimes_are_checked(tmp_path: Path, make_project: MakeProject) -> None:
    import aws_cdk as cdk

    from layer_builder.cdk import PythonLayerVersion

    lambda_ = lambda_module()
    project = str(make_project({"fastcalc": "1.0.0"}))
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "S")
    cases = {
        "Node": [lambda_.Runtime.NODEJS_20_X],
        "Old": [lambda_.Runtime.PYTHON_3_9],
    }
    errors = {}
    for name, runtimes in cases.items():
        with pytest.raises(ConfigurationError) as refused:
            PythonLayerVersion(stack, name, entry=project, compatible_runtimes=runtimes)
        errors[name] = str(refused.value)
    assert errors == {
        "Node": "PythonLayerVersion 'Node': nodejs20.x is not a Python runtime: "
        "compatible_runtimes takes Python runtimes only (e.g. Runtime.PYTHON_3_12)",
        "Old": "PythonLayerVersion 'Old': layer_builder does not build for python3.9: choose "
        "among python3.10, python3.11, python3.12, python3.13, python3.14",
    }
    from layer_builder.cdk import build_layer_asset

    arm64 = build_layer_asset(project, ["3.12/arm64"])
    with pytest.raises(ConfigurationError) as refused:
        PythonLayerVersion(stack, "Given", entry=project, asset=arm64)
    assert str(refused.value) == (
        "PythonLayerVersion 'Given': the asset given serves python3.12-arm64, not the "
        "python3.12-x86_64 declared: give the runtimes and architectures it was built for"
    )
    with pytest.raises(NotUniversalError, match="python_layer_versions"):
        PythonLayerVersion(stack, "Both", entry=project,
                           compatible_architectures=[lambda_.Architecture.X86_64,
                                                     lambda_.Architecture.ARM_64])  # fmt: skip


def test_python_layer_versions_makes_one_universal_layer_or_one_per_target(
    tmp_path: Path, make_project: MakeProject
) -> None:
    from layer_builder.cdk import python_layer_versions

    pure = make_project({"tinyutil": "1.0.0"}, name="pure")
    compiled = make_project({"fastcalc": "1.0.0"}, name="compiled")
    made: dict[str, Any] = {}

    def define(stack: Any) -> None:
        made["pure"] = python_layer_versions(
            stack, "Pure", entry=str(pure),
            targets=["3.12/x86_64", "3.12/arm64", "3.13/x86_64", "3.13/arm64"],
        )  # fmt: skip
        made["compiled"] = python_layer_versions(
            stack, "Compiled", entry=str(compiled), targets=["3.12/x86_64", "3.12/arm64"],
            description="fastcalc",
        )  # fmt: skip
        with pytest.raises(ConfigurationError) as refused:
            python_layer_versions(stack, "Bad", entry=str(pure), targets=["3.12/arm64"],
                                  compatible_runtimes=[])  # fmt: skip
        made["refused"] = str(refused.value)

    layers = synth_layers(tmp_path / "out", define)
    assert len({id(layer) for layer in made["pure"].values()}) == 1
    assert [layer.node.id for layer in made["compiled"].values()] == [
        "Compiled-python3.12-x86_64", "Compiled-python3.12-arm64"
    ]  # fmt: skip
    declared = sorted((layer["runtimes"], layer["architectures"]) for layer in layers.values())
    assert declared == [
        (["python3.12"], ["arm64"]),
        (["python3.12"], ["x86_64"]),
        (["python3.12", "python3.13"], ["x86_64", "arm64"]),
    ]
    machines = {"x86_64": "x86_64", "arm64": "aarch64"}
    for layer in layers.values():
        so = [n for n in members(layer["asset"]) if n.endswith(".so")]
        if len(layer["runtimes"]) > 1:  # the universal layer of tinyutil
            assert so == []
        else:
            (machine,) = [machines[a] for a in layer["architectures"]]
            assert so == [f"python/fastcalc/_speedups.cpython-312-{machine}-linux-gnu.so"]
    assert made["refused"] == (
        "python_layer_versions 'Bad': compatible_runtimes is decided by targets=: drop it"
    )
