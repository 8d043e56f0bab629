"""What ``layer-builder`` writes for people and tools besides the zip: the HTML size report
(``package --report``) and the SBOM of the current build (``layer-builder sbom``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layer_builder.archive.hashing import sha256_file
from layer_builder.errors import ProjectError

if TYPE_CHECKING:
    from layer_builder.steps.package.step import PackageResult
    from layer_builder.workflow import LayerWorkflow

SBOM_COMMAND = {"sbom": "print (or --output FILE: write) the CycloneDX SBOM of the current build"}


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """``--report FILE.html`` (the size picture)."""
    parser.add_argument("--report", metavar="FILE.html",
                        help="also write a self-contained HTML page: a treemap of the "
                             "layer's bytes, what --slim removed, the headroom to Lambda's "
                             "limit")  # fmt: skip


def add_sbom_arguments(parser: argparse.ArgumentParser) -> None:
    """``--output FILE`` of ``sbom``."""
    parser.add_argument("--output", metavar="FILE",
                        help="write the SBOM to FILE instead of printing it")  # fmt: skip


def write_report(args: argparse.Namespace, result: PackageResult) -> dict[str, Any]:
    """``--report``: the page written, for the command's output (empty without the flag)."""
    if not getattr(args, "report", None):
        return {}
    from layer_builder.steps.package.html_report import write_html_report

    path = write_html_report(result, Path(args.report).resolve())
    return {"report": str(path)}


def execute_sbom(args: argparse.Namespace, workflow: LayerWorkflow) -> dict[str, Any]:
    """The SBOM ``package`` wrote for ``layer.zip``, checked to describe that very zip."""
    from layer_builder.steps.package.sbom import sbom_zip_sha256

    path_sbom, path_zip = workflow.layout.path_sbom, workflow.layout.path_layer_zip
    if not path_sbom.is_file() or not path_zip.is_file():
        missing = path_zip if not path_zip.is_file() else path_sbom
        raise ProjectError(f"{missing} does not exist: run `layer-builder package` first")
    document = path_sbom.read_text(encoding="utf-8")
    described, actual = sbom_zip_sha256(document, str(path_sbom)), sha256_file(path_zip)
    if described != actual:
        raise ProjectError(
            f"{path_sbom} describes another zip (sha256 {described}) than {path_zip} "
            f"({actual}): run `layer-builder package` again"
        )
    data: dict[str, Any] = {
        "sbom": str(path_sbom),
        "zip_sha256": actual,
        "components": len(json.loads(document).get("components", [])),
    }
    if args.output:
        output = Path(args.output).resolve()
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(document, encoding="utf-8")
        data["output"] = str(output)
    else:
        data["document"] = document
    return data


def print_sbom(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """The document itself on stdout (it is JSON already), or where it was written."""
    if "document" in data:
        sys.stdout.write(data["document"])
    elif args.json:
        print(json.dumps(data, sort_keys=True))
    else:
        print(f"{data['output']} ({data['components']} components)")
