"""UniversalBuildStep: the targets' real trees, judged to be one pure-Python tree or not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from layer_builder import LayerPathLayout, LayerTarget, Manifest
from layer_builder.errors import MismatchedBuildError
from layer_builder.steps.build import BuildStep
from layer_builder.steps.universal import UniversalBuildStep
from tests.small_index import SIXLIKE, SmallIndex, serve_wheels

TARGETS = (LayerTarget("3.12", "x86_64"), LayerTarget("3.13", "arm64"))


@pytest.fixture(scope="module")
def six_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallIndex]:
    with serve_wheels([SIXLIKE], tmp_path_factory.mktemp("six-index")) as index:
        yield index


@pytest.fixture
def step(
    tmp_path: Path, six_index: SmallIndex, monkeypatch: pytest.MonkeyPatch
) -> UniversalBuildStep:
    """The universal build of a project pinning a wheel tagged py2.py3-none-any (as six is:
    its WHEEL lists ``Tag: py2-none-any`` and ``Tag: py3-none-any``)."""
    monkeypatch.setenv("PIP_INDEX_URL", six_index.url)
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(six_index.requirements("sixlike"))
    manifest = Manifest.from_project(project)
    return UniversalBuildStep(
        [BuildStep(t, manifest, LayerPathLayout(project, t.name)) for t in TARGETS]
    )


def test_a_wheel_for_python_2_and_3_makes_a_universal_layer(step: UniversalBuildStep) -> None:
    result = step.run()
    assert result.universal
    wheel = result.dir_python / "sixlike-1.17.0.dist-info" / "WHEEL"
    assert "Tag: py2-none-any\nTag: py3-none-any\n" in wheel.read_text()


def test_a_target_tree_changed_since_its_build_is_named(step: UniversalBuildStep) -> None:
    step.run()
    changed = step.steps[1].layout.dir_python
    (changed / "sixlike.py").write_text("X = 2\n")
    with pytest.raises(MismatchedBuildError) as caught:
        step.last_result()
    assert str(caught.value).startswith(f"{changed} changed since it was built (")
