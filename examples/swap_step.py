"""A workflow subclass that swaps a step: package with other options than the default.

Run: .venv/bin/python examples/swap_step.py   (needs the ``local`` extra and the network)

Here the team uploads over a slow link, so it trades CPU for bytes: DEFLATE level 9 instead
of the default 6. The same override can return any PackageStep subclass instead.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import attrs

from layer_builder import LayerTarget, LayerWorkflow, LocalAwsEndpoint, PackageStep

SIMPLE_APP = Path(__file__).resolve().parent / "simple_app"
# Leave out a build/ the README command may have left there: these runs start from scratch.
NO_BUILD = shutil.ignore_patterns("build")


class SmallestZipWorkflow(LayerWorkflow):
    def make_package_step(self) -> PackageStep:
        # evolve() keeps whatever else the caller set in package_options. Only the level
        # changes, and the level is not part of the fingerprint (the step's
        # fingerprint_fields()): the layer's content is the same, so switching levels alone
        # never publishes a new version. Other excludes here would count, and publish one.
        options = attrs.evolve(self.package_options, compresslevel=9)
        return PackageStep(self.layout.path_layer_zip, options)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        project = Path(shutil.copytree(SIMPLE_APP, Path(tmp) / "simple_app", ignore=NO_BUILD))
        endpoint.ensure_bucket("layer-builder-example")
        workflow = SmallestZipWorkflow(
            project_dir=project,
            layer_name="simple_app_deps",
            s3dir_lambda="s3://layer-builder-example/projects/simple_app/lambda/",
            target=LayerTarget(python_version="3.12", architecture="arm64"),
            aws=endpoint.clients(),
        )
        result = workflow.run()
        assert result.build is not None and result.package is not None  # a first run builds
        print(f"published {result.publish.layer_version_arn}")
        print(f"level 9:  {result.package.zip_size:,} bytes")

        # For comparison, the default step on the same tree (a step runs alone from a result).
        default = PackageStep(Path(tmp) / "level6.zip").run(result.build)
        print(f"level 6:  {default.zip_size:,} bytes")
        print(f"same fingerprint: {default.fingerprint == result.package.fingerprint}")


if __name__ == "__main__":
    main()
