"""AWS CDK constructs that build Lambda layers with layer_builder at synth, without Docker.

``from layer_builder.cdk import PythonLayerVersion`` replaces
``from aws_cdk.aws_lambda_python_alpha import PythonLayerVersion``. The constructs need the
``cdk`` extra (``pip install 'lambda-layer-builder[cdk]'``: aws-cdk-lib and constructs),
loaded when first asked for; ``build_layer_asset`` and ``LayerAsset`` need neither.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from layer_builder.cdk.asset import LayerAsset, build_layer_asset, build_layer_assets
from layer_builder.errors import ToolMissingError

if TYPE_CHECKING:
    from layer_builder.cdk.construct import (
        PythonLayerVersion,
        python_layer_versions,
        python_runtime,
    )

#: The names that need aws-cdk-lib, imported on first use.
_CONSTRUCTS = ("PythonLayerVersion", "python_layer_versions", "python_runtime")

__all__ = [
    "CdkMissingError",
    "LayerAsset",
    "PythonLayerVersion",
    "build_layer_asset",
    "build_layer_assets",
    "python_layer_versions",
    "python_runtime",
]


class CdkMissingError(ToolMissingError, ImportError):
    """aws-cdk-lib or constructs is not installed (the ``cdk`` extra)."""


def require_cdk() -> None:
    """Raise ``CdkMissingError`` unless aws-cdk-lib and constructs can be imported."""
    for module in ("aws_cdk", "constructs"):
        if importlib.util.find_spec(module) is None:
            raise CdkMissingError(
                f"layer_builder.cdk.PythonLayerVersion needs aws-cdk-lib and constructs, and "
                f"{module} is not installed: pip install 'lambda-layer-builder[cdk]'"
            )


def __getattr__(name: str) -> Any:
    if name not in _CONSTRUCTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    require_cdk()
    return getattr(importlib.import_module("layer_builder.cdk.construct"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
