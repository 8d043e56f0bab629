"""LayerTarget: runtime names, platform tags, and what uv and containers are told."""

from __future__ import annotations

import pytest
from packaging.tags import parse_tag

from layer_builder import LayerTarget
from layer_builder.errors import ConfigurationError


@pytest.mark.parametrize(
    ("python", "arch", "uv_platform", "image", "platform"),
    [
        (
            "3.11",
            "x86_64",
            "x86_64-manylinux_2_17",
            "build-python3.11:latest-x86_64",
            "linux/amd64",
        ),
        ("3.12", "arm64", "aarch64-manylinux_2_34", "build-python3.12:latest-arm64", "linux/arm64"),
        (
            "3.14",
            "x86_64",
            "x86_64-manylinux_2_34",
            "build-python3.14:latest-x86_64",
            "linux/amd64",
        ),
    ],
)
def test_what_the_tools_are_told(
    python: str, arch: str, uv_platform: str, image: str, platform: str
) -> None:
    target = LayerTarget(python, arch)
    assert target.uv_python_platform == uv_platform
    assert target.build_image == f"public.ecr.aws/sam/{image}"
    assert target.container_platform == platform


@pytest.mark.parametrize(
    ("tag", "accepted"),
    [
        ("py3-none-any", True),
        ("cp312-cp312-manylinux_2_17_aarch64", True),
        ("cp312-abi3-manylinux_2_34_aarch64", True),
        ("cp38-abi3-manylinux2014_aarch64", True),
        ("cp312-cp312-manylinux_2_35_aarch64", False),
        ("cp312-cp312-manylinux_2_17_x86_64", False),
        ("cp311-cp311-manylinux_2_17_aarch64", False),
        ("cp312-cp312-linux_aarch64", False),
        ("cp312-cp312-musllinux_1_2_aarch64", False),
    ],
)
def test_accepts(tag: str, accepted: bool) -> None:
    target = LayerTarget("3.12", "arm64")
    assert any(target.accepts(t) for t in parse_tag(tag)) is accepted


def test_glibc_2_28_is_too_new_for_python311() -> None:
    (tag,) = parse_tag("cp311-cp311-manylinux_2_28_x86_64")
    assert not LayerTarget("3.11", "x86_64").accepts(tag)
    assert LayerTarget("3.11", "x86_64").platform_tags[0] == "manylinux_2_26_x86_64"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"python_version": "3.9"}, "unsupported Lambda Python"), ({"architecture": "arm"}, "arm64")],
)
def test_invalid_target(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        LayerTarget(**kwargs)
