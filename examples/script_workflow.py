"""Drive the whole pipeline from a Python script, against the embedded local AWS endpoint.

Run: .venv/bin/python examples/script_workflow.py   (needs the ``local`` extra and the network,
since simple_app's requests comes from the package index)
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from layer_builder import LayerTarget, LayerWorkflow, LocalAwsEndpoint

SIMPLE_APP = Path(__file__).resolve().parent / "simple_app"
# Leave out a build/ the README command may have left there: these runs start from scratch.
NO_BUILD = shutil.ignore_patterns("build")
S3DIR = "s3://layer-builder-example/projects/simple_app/lambda/"


def main() -> None:
    # The library only logs; show its progress on stderr, keep stdout for the results.
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        # A build writes build/ next to pyproject.toml: work on a copy, not the repository.
        project = Path(shutil.copytree(SIMPLE_APP, Path(tmp) / "simple_app", ignore=NO_BUILD))
        endpoint.ensure_bucket("layer-builder-example")
        workflow = LayerWorkflow(
            project_dir=project,
            layer_name="simple_app_deps",
            s3dir_lambda=S3DIR,
            # Built for Lambda's python3.12 on Graviton, whatever this host runs.
            target=LayerTarget(python_version="3.12", architecture="arm64"),
            aws=endpoint.clients(),  # without it: the normal boto3 chain, i.e. your account
        )
        result = workflow.run()
        print(f"built      {len(result.build.distributions)} distributions for "
              f"{result.build.target.runtime} {result.build.target.architecture}")  # fmt: skip
        print(f"packaged   {result.package.files} files, {result.package.zip_size:,} bytes, "
              f"sha256 {result.package.sha256}")  # fmt: skip
        print(f"uploaded   {result.upload.s3_uri}")
        print(f"published  {result.publish.published}: {result.publish.layer_version_arn}")

        # Same dependencies, same target: the second run publishes nothing, and says why.
        again = workflow.run()
        print(f"second run published={again.publish.published} "
              f"version={again.publish.layer_version} reason: {again.publish.reason}")  # fmt: skip

        # Steps also run alone: rebuild from scratch (no build/ left to reuse) and repackage,
        # without touching AWS. The zip is reproducible: same dependencies, same bytes.
        shutil.rmtree(project / "build")
        rebuilt = workflow.package(workflow.build())
        print(f"rebuilt    same sha256: {rebuilt.sha256 == result.package.sha256}")


if __name__ == "__main__":
    main()
