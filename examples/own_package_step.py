"""A package step of your own: also leave the command-line code of dependencies out.

Run: .venv/bin/python examples/own_package_step.py   (needs the ``local`` extra and the network)

What a step must do to take part: ``run()`` with the previous step's result, and
``fingerprint_fields()`` saying what about it changes the layer's content. The workflow asks
the steps its factories make for those fields, so turning this step on publishes a new
version, and the next run with it finds that version and builds nothing.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from layer_builder import AwsClients, LayerTarget, LayerWorkflow, LocalAwsEndpoint, PackageStep

SIMPLE_APP = Path(__file__).resolve().parent / "simple_app"
NO_BUILD = shutil.ignore_patterns("build")


def is_command_line_code(name: str) -> bool:
    """``certifi/__main__.py``, ``charset_normalizer/cli/__init__.py``: never run on Lambda."""
    parts = name.split("/")
    return parts[-1] == "__main__.py" or "cli" in parts[1:-1]


class NoCliPackageStep(PackageStep):
    """Packages as usual, minus the dependencies' command-line entry points."""

    def fingerprint_fields(self) -> Mapping[str, object]:
        # What this step adds to the layer's identity: without it, a layer with that code
        # and one without would carry the same fingerprint, and never be told apart.
        return {**super().fingerprint_fields(), "no_cli": True}

    def select_files(self, files: dict[str, Path]) -> dict[str, Path]:
        return {name: path for name, path in files.items() if not is_command_line_code(name)}


class NoCliWorkflow(LayerWorkflow):
    def make_package_step(self) -> PackageStep:
        return NoCliPackageStep(self.layout.path_layer_zip, self.package_options)


def compare(
    project: Path, aws: AwsClients, s3dir: str, target: LayerTarget, layer_name: str
) -> None:
    """Publish the project's layer as usual, then without command-line code, then again."""
    for label, workflow_class in (("plain", LayerWorkflow), ("no cli", NoCliWorkflow),
                                  ("again", NoCliWorkflow)):  # fmt: skip
        workflow = workflow_class(project, layer_name, s3dir, target, aws=aws)
        result = workflow.run()
        files = "nothing built" if result.package is None else f"{result.package.files} files"
        print(f"{label:7}  version {result.publish.layer_version}, {files}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        project = Path(shutil.copytree(SIMPLE_APP, Path(tmp) / "simple_app", ignore=NO_BUILD))
        endpoint.ensure_bucket("layer-builder-example")
        target = LayerTarget(python_version="3.12", architecture="arm64")
        s3dir = "s3://layer-builder-example/simple_app/lambda/"
        compare(project, endpoint.clients(), s3dir, target, "simple_app_deps")


if __name__ == "__main__":
    main()
