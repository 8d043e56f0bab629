"""Whether a wheel, and a tree, is pure Python: every tag ``*-none-any``, one for Python 3."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from layer_builder.model.distributions import find_distributions
from layer_builder.model.purity import impure_tag, impurity, wheel_tags
from tests.wheelhouse import WheelSpec, make_wheel


@pytest.mark.parametrize(
    "tags",
    [
        ("py3-none-any",),
        ("py2-none-any", "py3-none-any"),  # six, idna of old, and many more
        ("py3-none-any", "py2-none-any"),  # the order the WHEEL file lists them in is free
        ("py2.py3-none-any",),  # a compressed tag set on one line
        ("py38-none-any",),
        ("cp312-none-any",),
    ],
)
def test_pure_wheels(tags: tuple[str, ...]) -> None:
    assert impure_tag(tags) is None


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ((), "was not installed from a wheel (no wheel tag)"),
        (("py2-none-any",), "is not for Python 3 (py2-none-any)"),
        (
            ("py3-none-any", "cp312-cp312-manylinux_2_17_x86_64"),
            "is built for cp312-cp312-manylinux_2_17_x86_64",
        ),
        (("py3-abi3-any",), "is built for py3-abi3-any"),
        (("py3-none-linux_x86_64",), "is built for py3-none-linux_x86_64"),
        (("nonsense",), "is built for nonsense"),
    ],
)
def test_impure_wheels_name_the_tag_to_blame(tags: tuple[str, ...], reason: str) -> None:
    assert impure_tag(tags) == reason


def _install(spec: WheelSpec, tree: Path, scratch: Path) -> None:
    """Unpack a real wheel into ``tree``, as an installer lays it out."""
    scratch.mkdir(exist_ok=True)
    with zipfile.ZipFile(make_wheel(spec, scratch)) as zf:
        zf.extractall(tree)


def test_a_tree_of_a_py2_py3_wheel_is_pure(tmp_path: Path) -> None:
    tree = tmp_path / "python"
    _install(WheelSpec("sixlike", "1.17.0", tag="py2.py3-none-any"), tree, tmp_path / "w")
    assert wheel_tags(tree / "sixlike-1.17.0.dist-info") == ("py2-none-any", "py3-none-any")
    assert impurity(tree, find_distributions(tree)) is None


def test_a_tree_names_its_first_impure_distribution(tmp_path: Path) -> None:
    tree = tmp_path / "python"
    _install(WheelSpec("sixlike", "1.17.0", tag="py2.py3-none-any"), tree, tmp_path / "w")
    _install(WheelSpec("oldonly", "0.1", tag="py2-none-any"), tree, tmp_path / "w")
    assert (
        impurity(tree, find_distributions(tree)) == "oldonly 0.1 is not for Python 3 (py2-none-any)"
    )
