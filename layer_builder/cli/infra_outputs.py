"""The flags of ``run`` and ``publish`` that hand the version's ARN to infrastructure code:
``--ssm-parameter``, ``--github-output`` and ``--json-strings``."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layer_builder.cli.config import setting

# The outputs talk to AWS (SSM): imported where they are written, so that the parser that
# adds these flags loads no boto3.
if TYPE_CHECKING:
    from layer_builder.operations.outputs import SsmParameterTemplate
    from layer_builder.workflow import LayerWorkflow

logger = logging.getLogger(__name__)

#: The environment variable GitHub Actions sets to the step's output file.
GITHUB_OUTPUT = "GITHUB_OUTPUT"


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ssm-parameter``, ``--github-output`` and ``--json-strings``."""
    parser.add_argument("--ssm-parameter", metavar="TEMPLATE",
                        help="write the version's ARN to this SSM parameter (String), e.g. "
                             "'/layers/{layer_name}/{target}'; placeholders: {layer_name}, "
                             "{runtime}, {arch}, {target}, {region}")  # fmt: skip
    parser.add_argument("--github-output", action="store_true",
                        help="append layer_version_arn, layer_version and published to "
                             "$GITHUB_OUTPUT (in a GitHub Actions step)")  # fmt: skip
    parser.add_argument("--json-strings", action="store_true",
                        help="print one flat JSON object of strings (for Terraform's "
                             "external data source)")  # fmt: skip


def ssm_template(args: argparse.Namespace, config: dict[str, Any]) -> SsmParameterTemplate | None:
    """``--ssm-parameter``, else ``ssm_parameter`` in [tool.layer_builder], checked."""
    from layer_builder.operations.outputs import SsmParameterTemplate

    text = setting(args, config, "ssm_parameter", "ssm_parameter")
    return SsmParameterTemplate(text) if text else None


def check_outputs(
    args: argparse.Namespace, config: dict[str, Any], workflow: LayerWorkflow
) -> None:
    """Fail (or warn) before any work about an output that cannot be written."""
    template = ssm_template(args, config)
    if template is not None:
        template.render(workflow.layer_name, workflow.target, workflow.aws.region)
    warn_without_github_output(args)


def warn_without_github_output(args: argparse.Namespace) -> None:
    """``--github-output`` outside a GitHub Actions step: say that nothing will be written."""
    if getattr(args, "github_output", False) and not os.environ.get(GITHUB_OUTPUT):
        logger.warning(
            "--github-output: $%s is not set (not in a GitHub Actions step): no outputs written",
            GITHUB_OUTPUT,
        )


def write_outputs(
    args: argparse.Namespace, config: dict[str, Any], workflow: LayerWorkflow, data: dict[str, Any]
) -> dict[str, Any]:
    """Write the ARN of ``data`` (the ``--json`` document of ``run`` or ``publish``) where
    the flags ask; returns the ``--json`` keys that say what was written."""
    from layer_builder.operations.outputs import (
        SsmParameterWrite,
        append_github_output,
        as_string,
        put_ssm_parameter,
        region_arns,
    )

    writes: list[SsmParameterWrite] = []
    template = ssm_template(args, config)
    if template is not None:
        at_home = workflow.aws.region
        arns = [(at_home, workflow.aws, data["layer_version_arn"])]
        arns += [
            (r["region"], workflow.region_aws(r["region"]), r["layer_version_arn"])
            for r in data.get("regions", [])
            if r.get("layer_version_arn")
        ]
        for region, aws, arn in arns:
            name = template.render(workflow.layer_name, workflow.target, region)
            writes.append(put_ssm_parameter(aws.ssm, name, arn))
    github_output = os.environ.get(GITHUB_OUTPUT)
    if getattr(args, "github_output", False) and github_output:
        values = {
            key: as_string(data[key]) for key in ("layer_version_arn", "layer_version", "published")
        }
        append_github_output(Path(github_output), {**values, **region_arns(data)})
    return {"ssm_parameters": [w.to_json() for w in writes]}


def output_lines(data: dict[str, Any]) -> list[str]:
    """The human line per SSM parameter."""
    return [
        f"SSM parameter {w['name']} ({w['region']}): "
        f"{'set to' if w['written'] else 'already holds'} {w['value']}"
        for w in data.get("ssm_parameters", [])
    ]
