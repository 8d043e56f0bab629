"""``layer_builder.cdk.asset``: the zip a CDK layer is handed and the identity its asset hash
is made from, built by the real installers from the local wheel index (no aws-cdk-lib)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import layer_builder.cdk
from layer_builder import NoCompatibleWheelError, NotUniversalError, PackageResult
from layer_builder.cdk import CdkMissingError, build_layer_asset, build_layer_assets
from layer_builder.errors import ConfigurationError
from layer_builder.model.target import LayerTarget, TargetSet
from tests.conftest import MakeProject

PURE = {"tinyutil": "1.0.0"}
COMPILED = {"fastcalc": "1.0.0", "s3transfer": "99.0.0"}
FOUR = ["3.12/x86_64", "3.12/arm64", "3.13/x86_64", "3.13/arm64"]


def names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return set(zf.namelist())


def test_one_target_is_zipped_in_its_own_folder_and_named_by_its_fingerprint(
    make_project: MakeProject,
) -> None:
    project = make_project(COMPILED)
    asset = build_layer_asset(project, ["3.12/arm64"])
    assert asset.path_zip == project / "build/lambda/python3.12-arm64/layer/layer.zip"
    assert asset.targets == TargetSet.parse(["3.12/arm64"])
    assert asset.universal is False
    members = names(asset.path_zip)
    assert "python/fastcalc/_speedups.cpython-312-aarch64-linux-gnu.so" in members
    assert not any(m.startswith("python/s3transfer") for m in members), "the runtime provides it"
    assert PackageResult.from_zip(asset.path_zip).fingerprint == asset.fingerprint
    # Built again: the same identity and bytes; the lock changed: another identity.
    again = build_layer_asset(project, ["3.12/arm64"])
    assert (again.fingerprint, again.zip_sha256) == (asset.fingerprint, asset.zip_sha256)
    (project / "requirements.txt").write_text("fastcalc==1.0.0\n")
    changed = build_layer_asset(project, ["3.12/arm64"])
    assert changed.fingerprint != asset.fingerprint


def test_pure_targets_share_one_universal_zip(make_project: MakeProject) -> None:
    project = make_project(PURE)
    assets = build_layer_assets(project, FOUR)
    assert list(assets) == list(TargetSet.parse(FOUR))
    (asset,) = set(assets.values())
    assert asset.universal is True
    assert asset.targets == TargetSet.parse(FOUR)
    assert asset.path_zip == project / "build/lambda/universal/layer/layer.zip"
    assert asset.reason == "every distribution is pure Python and the 4 trees are the same"
    assert build_layer_asset(project, FOUR) == asset
    assert build_layer_asset(project, ["3.12/arm64"]).fingerprint != asset.fingerprint


def test_universal_false_gives_each_target_its_zip(make_project: MakeProject) -> None:
    project = make_project(PURE)
    assets = build_layer_assets(project, ["3.12/x86_64", "3.12/arm64"], universal=False)
    assert [a.targets.names for a in assets.values()] == ["python3.12-x86_64", "python3.12-arm64"]
    assert len({a.fingerprint for a in assets.values()}) == 2


def test_a_compiled_dependency_gets_one_zip_per_target(make_project: MakeProject) -> None:
    project = make_project(COMPILED)
    targets = ["3.12/x86_64", "3.12/arm64"]
    assets = build_layer_assets(project, targets)
    arm = assets[LayerTarget("3.12", "arm64")]
    assert "python/fastcalc/_speedups.cpython-312-aarch64-linux-gnu.so" in names(arm.path_zip)
    x86 = assets[LayerTarget("3.12", "x86_64")]
    assert "python/fastcalc/_speedups.cpython-312-x86_64-linux-gnu.so" in names(x86.path_zip)
    with pytest.raises(NotUniversalError) as refused:
        build_layer_asset(project, targets)
    assert str(refused.value) == (
        "one zip cannot serve python3.12-x86_64, python3.12-arm64: fastcalc 1.0.0 is built for "
        "cp312-cp312-manylinux_2_17_x86_64 (python3.12-x86_64): declare one runtime and one "
        "architecture per layer, or make one layer per target with "
        "layer_builder.cdk.python_layer_versions()"
    )


def test_the_entry_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        build_layer_asset(tmp_path / "missing", ["3.12/arm64"])
    assert str(refused.value) == (
        f"entry {str(tmp_path / 'missing')!r} is not a folder: give the folder holding the "
        f"layer's requirements.txt, uv.lock, poetry.lock or pyproject.toml"
    )


def test_a_target_without_a_wheel_fails_in_the_builds_words(make_project: MakeProject) -> None:
    project = make_project({"fastcalc": "1.0.0"})
    with pytest.raises(NoCompatibleWheelError, match="fastcalc"):
        build_layer_assets(project, ["3.12/arm64", "3.13/arm64"])


def test_the_library_half_loads_no_aws_cdk() -> None:
    code = (
        "import json, sys\n"
        "import layer_builder\n"
        "assert 'layer_builder.cdk' not in sys.modules\n"
        "from layer_builder.cdk import LayerAsset, build_layer_asset\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aws_cdk', 'constructs', 'jsii'))))\n"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, timeout=120)  # fmt: skip
    assert json.loads(process.stdout) == []


def test_the_constructs_without_the_cdk_extra_say_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "aws_cdk" else find_spec(name, *a),
    )
    with pytest.raises(CdkMissingError) as refused:
        _ = layer_builder.cdk.PythonLayerVersion
    assert isinstance(refused.value, ImportError)
    assert str(refused.value) == (
        "layer_builder.cdk.PythonLayerVersion needs aws-cdk-lib and constructs, and aws_cdk "
        "is not installed: pip install 'lambda-layer-builder[cdk]'"
    )
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = layer_builder.cdk.Nope
