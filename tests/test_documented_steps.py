"""The steps docs/subclassing.rst shows (examples/own_package_step.py, steps_alone.py) do what
the page says, offline: against the local wheel index and the moto server."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from layer_builder import AwsClients, LayerPathLayout, LayerTarget
from tests.conftest import MakeProject

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_step_of_your_own_counts_in_the_fingerprint(
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load_example("own_package_step")
    project = make_project({"tinycli": "1.0.0", "tinyutil": "1.0.0"})
    example.compare(project, aws, f"s3://{bucket}/app/lambda/", LayerTarget(), layer_name)
    lines = capsys.readouterr().out.splitlines()
    # tinycli's __main__.py and cli/__init__.py are left out: two files fewer.
    plain = int(lines[0].split(", ")[1].split()[0])
    assert lines == [
        f"plain    version 1, {plain} files",
        f"no cli   version 2, {plain - 2} files",
        "again    version 2, nothing built",
    ]
    with zipfile.ZipFile(LayerPathLayout(project).path_layer_zip) as zf:
        names = zf.namelist()
    assert "python/tinycli/__init__.py" in names
    assert not [n for n in names if n.endswith("__main__.py") or "/cli/" in n]


def test_the_steps_run_alone_from_a_zip_packaged_earlier(
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load_example("steps_alone")
    project = make_project({"tinyutil": "1.0.0"})
    example.publish_step_by_step(
        project, aws, f"s3://{bucket}/app/lambda/", LayerTarget(), layer_name
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("packaged  ")
    assert out[1].startswith(f"uploaded  s3://{bucket}/app/lambda/layer/zips/")
    assert out[2] == f"published True: arn:aws:lambda:us-east-1:123456789012:layer:{layer_name}:1"
