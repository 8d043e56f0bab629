"""Each step without the workflow: what a deployment tool does to run them on its own terms.

Run: .venv/bin/python examples/steps_alone.py   (needs the ``local`` extra and the network)

Every step is an ordinary object: built with its configuration, ``run()`` with the previous
step's result. A result may come from an earlier process: ``PackageResult.from_zip()`` reads
the build a zip holds from the zip itself, and the upload step refuses it if it is not this
manifest's (``expected_fingerprint`` would also refuse another target or other options).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from layer_builder import (
    AwsClients,
    BuildStep,
    LayerPathLayout,
    LayerS3Layout,
    LayerTarget,
    LocalAwsEndpoint,
    Manifest,
    PackageResult,
    PackageStep,
    PublishOptions,
    PublishStep,
    UploadStep,
)

SIMPLE_APP = Path(__file__).resolve().parent / "simple_app"
NO_BUILD = shutil.ignore_patterns("build")


def publish_step_by_step(
    project: Path, aws: AwsClients, s3dir: str, target: LayerTarget, layer_name: str
) -> None:
    manifest = Manifest.from_project(project)
    layout = LayerPathLayout(project)
    build = BuildStep(target, manifest, layout).run()
    package = PackageStep(layout.path_layer_zip).run(build)
    print(f"packaged  {package.files} files, identity {package.fingerprint[:12]}")

    # Later, maybe in another process: the zip says which build it holds.
    packaged_earlier = PackageResult.from_zip(layout.path_layer_zip)
    s3_layout = LayerS3Layout(s3dir)
    upload = UploadStep(s3_layout, manifest, aws.s3).run(packaged_earlier)
    print(f"uploaded  {upload.s3_uri}")
    options = PublishOptions(description="built by a deployment tool")
    publish = PublishStep(layer_name, target, manifest, s3_layout, aws, options).run(upload)
    print(f"published {publish.published}: {publish.layer_version_arn}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        project = Path(shutil.copytree(SIMPLE_APP, Path(tmp) / "simple_app", ignore=NO_BUILD))
        endpoint.ensure_bucket("layer-builder-example")
        target = LayerTarget(python_version="3.12", architecture="arm64")
        s3dir = "s3://layer-builder-example/simple_app/lambda/"
        publish_step_by_step(project, endpoint.clients(), s3dir, target, "simple_app_deps")


if __name__ == "__main__":
    main()
