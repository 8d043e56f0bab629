"""A CDK app with layer_builder's layers, synthesized for real, and what its cloud assembly
holds; run as a script, one arm64 layer (for a process with a PATH of its own)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

STACK = "LayersStack"


def synth_layers(outdir: Path, define: Callable[[Any], object]) -> dict[str, dict[str, Any]]:
    """Synthesize an app whose one stack ``define(stack)`` fills; each LayerVersion of the
    template by logical id: its runtimes, architectures, S3 key and the asset file."""
    import aws_cdk as cdk

    app = cdk.App(outdir=str(outdir))
    define(cdk.Stack(app, STACK))
    assembly = app.synth()
    template = assembly.get_stack_artifact(STACK).template
    assets = json.loads((outdir / f"{STACK}.assets.json").read_text())["files"]
    files = {
        next(iter(a["destinations"].values()))["objectKey"]: outdir / a["source"]["path"]
        for a in assets.values()
    }
    layers = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::LayerVersion":
            continue
        properties = resource["Properties"]
        key = properties["Content"]["S3Key"]
        layers[logical_id] = {
            "runtimes": properties.get("CompatibleRuntimes"),
            "architectures": properties.get("CompatibleArchitectures"),
            "description": properties.get("Description"),
            "s3_key": key,
            "asset": str(files[key]),
        }
    return layers


def asset_key(custom_hash: str) -> str:
    """The S3 key CDK gives an asset of a custom hash (which it hashes again)."""
    return hashlib.sha256(custom_hash.encode()).hexdigest() + ".zip"


def main(entry: str, python: str, arch: str, outdir: str) -> None:
    from aws_cdk import aws_lambda as lambda_

    from layer_builder.cdk import PythonLayerVersion

    built = {}

    def define(stack: Any) -> None:
        layer = PythonLayerVersion(
            stack,
            "Deps",
            entry=entry,
            compatible_runtimes=[getattr(lambda_.Runtime, f"PYTHON_{python.replace('.', '_')}")],
            compatible_architectures=[
                lambda_.Architecture.ARM_64 if arch == "arm64" else lambda_.Architecture.X86_64
            ],
        )
        built["fingerprint"] = layer.layer_asset.fingerprint

    layers = synth_layers(Path(outdir), define)
    print(json.dumps({"layers": layers, **built}))


if __name__ == "__main__":
    main(*sys.argv[1:])
