"""Outputs for infrastructure code: a version's ARN in SSM Parameter Store, in a GitHub
Actions step's outputs, and a result as one flat JSON object of strings (what Terraform's
``external`` data source reads)."""

from __future__ import annotations

import logging
import re
import string
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import botocore.exceptions

from layer_builder.aws.clients import aws_errors, error_code
from layer_builder.errors import ConfigurationError
from layer_builder.model.target import LayerTarget

logger = logging.getLogger(__name__)

#: What an SSM parameter name template may contain, with an example value of each.
PLACEHOLDERS = {
    "layer_name": "my_app_deps",
    "runtime": "python3.12",
    "arch": "arm64",
    "target": "python3.12-arm64",
    "region": "us-east-1",
}

# SSM's rules for a parameter name: these characters, at most 1011 of them.
_SSM_NAME = re.compile(r"[A-Za-z0-9_.\-/]{1,1011}")


def _template_error(template: str, problem: str) -> ConfigurationError:
    names = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    return ConfigurationError(
        f"--ssm-parameter {template!r} {problem}: use {names} "
        f"(e.g. --ssm-parameter '/layers/{{layer_name}}/{{target}}')"
    )


def check_ssm_name(name: str, template: str) -> str:
    """``name`` if SSM accepts it as a parameter name, else a ``ConfigurationError``."""
    problem = None
    if not _SSM_NAME.fullmatch(name):
        problem = "has characters SSM refuses in a parameter name (letters, digits, _.-/ only)"
    elif "/" in name and not name.startswith("/"):
        problem = "must start with '/' when it has a path (SSM wants the full path)"
    elif name.lstrip("/").lower().startswith(("aws", "ssm")):
        problem = "must not start with 'aws' or 'ssm' (SSM keeps those names for itself)"
    elif "//" in name or name.endswith("/"):
        problem = "has an empty path segment"
    if problem:
        raise ConfigurationError(
            f"SSM parameter name {name!r} (from --ssm-parameter {template!r}) {problem}: "
            f"change --ssm-parameter"
        )
    return name


@attrs.frozen
class SsmParameterTemplate:
    """The name of the SSM parameter that receives a version's ARN, with placeholders
    (``/layers/{layer_name}/{target}``), checked when made."""

    template: str

    def __attrs_post_init__(self) -> None:
        try:
            fields = list(string.Formatter().parse(self.template))
        except ValueError as exc:
            raise _template_error(self.template, f"is not a valid template ({exc})") from None
        for _, name, spec, conversion in fields:
            if name is None:
                continue
            if name not in PLACEHOLDERS:
                raise _template_error(self.template, f"names an unknown placeholder {{{name}}}")
            if spec or conversion:
                raise _template_error(self.template, f"formats {{{name}}}: give the bare name")
        check_ssm_name(self.template.format(**PLACEHOLDERS), self.template)

    def render(self, layer_name: str, target: LayerTarget, region: str) -> str:
        """The parameter name for this layer, target and region."""
        name = self.template.format(
            layer_name=layer_name,
            runtime=target.runtime,
            arch=target.architecture,
            target=target.name,
            region=region,
        )
        return check_ssm_name(name, self.template)


@attrs.frozen
class SsmParameterWrite:
    """One SSM parameter set to a version's ARN: ``written`` is False when it held it already."""

    name: str
    region: str
    value: str
    written: bool

    def to_json(self) -> dict[str, Any]:
        """The write as ``--json`` prints it."""
        return attrs.asdict(self)


def put_ssm_parameter(ssm: Any, name: str, value: str) -> SsmParameterWrite:
    """Set the ``String`` parameter ``name`` to ``value``, overwriting, only when it holds
    another value: an unchanged run adds no version to the parameter's history."""
    region = str(ssm.meta.region_name)
    where = f"SSM parameter {name} ({region})"
    with aws_errors(f"reading {where}"):
        try:
            current = ssm.get_parameter(Name=name)["Parameter"].get("Value")
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            current = None
    if current == value:
        logger.info("%s already holds %s", where, value)
        return SsmParameterWrite(name, region, value, written=False)
    with aws_errors(f"writing {where}"):
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    logger.info("%s set to %s", where, value)
    return SsmParameterWrite(name, region, value, written=True)


def github_output_text(values: Mapping[str, str]) -> str:
    """``values`` in the format of the file ``$GITHUB_OUTPUT`` names: ``name=value`` lines, a
    delimited block for a value that spans lines."""
    text = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"layer_builder_{uuid.uuid4().hex}"
            text.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            text.append(f"{name}={value}\n")
    return "".join(text)


def append_github_output(path: Path, values: Mapping[str, str]) -> None:
    """Append ``values`` to a GitHub Actions step's output file (``$GITHUB_OUTPUT``)."""
    with path.open("a", encoding="utf-8") as stream:
        stream.write(github_output_text(values))


def as_string(value: Any) -> str:
    """A JSON scalar as the string infrastructure code reads: ``true``/``false``, decimal
    numbers, ``""`` for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flat_strings(document: Mapping[str, Any]) -> dict[str, str]:
    """The scalar members of a ``--json`` document as strings, lists and objects left out,
    plus ``layer_version_arn_<region>`` for each entry of ``regions`` that names one."""
    flat = {
        key: as_string(value)
        for key, value in document.items()
        if not isinstance(value, (list, tuple, dict))
    }
    return {**flat, **region_arns(document)}


def region_arns(document: Mapping[str, Any]) -> dict[str, str]:
    """``layer_version_arn_eu_west_1``... for each extra region of a run that has a version."""
    return {
        f"layer_version_arn_{entry['region'].replace('-', '_')}": str(entry["layer_version_arn"])
        for entry in document.get("regions") or ()
        if isinstance(entry, Mapping) and entry.get("layer_version_arn")
    }
