"""Defaults from ``[tool.layer_builder]`` in the project's pyproject.toml."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from pathlib import Path
from typing import Any

from layer_builder.errors import ConfigurationError, ProjectError

logger = logging.getLogger(__name__)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Keys accepted in ``[tool.layer_builder]`` and the type each must have.
KNOWN_KEYS: dict[str, type | tuple[type, ...]] = {
    "layer_name": str,
    "s3dir": str,
    "python": str,
    "arch": str,
    "tool": str,
    "exclude": list,
    "slim": bool,
    "strip": (bool, str),
    "compile_bytecode": bool,
    "compress_level": int,
    "deflate_backend": str,
    "reserve": (int, str),
    "deny_licenses": list,
    "extras": list,
    "groups": list,
    "allow_source": list,
    "installer": str,
    "container": str,
    "index_url": str,
    "extra_index_urls": list,
    "codeartifact": str,
    "description": str,
    "license_info": str,
    "storage_mode": str,
    "expected_bucket_owner": str,
    "sse_kms_key_id": str,
    "s3_tags": dict,
    "replicate_to": dict,
    #: The old name of ``replicate_to``, still read (with a warning).
    "regions": dict,
    "grant_accounts": list,
    "grant_orgs": list,
    "grant_public": bool,
    "ssm_parameter": str,
    "targets": list,
    "universal": bool,
}


#: How the messages name each type: in TOML's words, since that is what the user wrote.
_TOML_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a float",
    bool: "a boolean (true or false)",
    list: "an array",
    dict: "a table",
}


def project_folder(args: argparse.Namespace) -> Path:
    """``--project``, checked to be a folder."""
    project = Path(args.project).resolve()
    if not project.is_dir():
        problem = "is not a folder" if project.exists() else "does not exist"
        raise ProjectError(f"project folder {project} {problem}: check --project")
    return project


def setting(args: argparse.Namespace, config: dict[str, Any], flag: str, key: str) -> Any:
    """The flag's value when given, else the project's ``key``."""
    value = getattr(args, flag, None)
    return value if value not in (None, False) else config.get(key)


def load_project_config(project_dir: Path) -> dict[str, Any]:
    """The ``[tool.layer_builder]`` table, checked; empty when there is none."""
    path = Path(project_dir) / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}: fix the file") from None
    tool = document.get("tool", {})
    table = tool.get("layer_builder", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"tool.layer_builder in {path} must be a table: write it as [tool.layer_builder] "
            f"followed by key = value lines"
        )
    for key, value in table.items():
        expected = KNOWN_KEYS.get(key)
        if expected is None:
            raise ConfigurationError(
                f"unknown key {key!r} in [tool.layer_builder] of {path}: "
                f"known keys are {', '.join(KNOWN_KEYS)}"
            )
        types = expected if isinstance(expected, tuple) else (expected,)
        # TOML's true/false are Python bools, which isinstance() also counts as ints.
        wrong_bool = isinstance(value, bool) and bool not in types
        if wrong_bool or not isinstance(value, types):
            names = " or ".join(_TOML_NAMES.get(t, t.__name__) for t in types)
            raise ConfigurationError(
                f"[tool.layer_builder] {key} in {path} must be {names}, not "
                f"{_TOML_NAMES.get(type(value), type(value).__name__)}"
            )
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise ConfigurationError(
                f"[tool.layer_builder] {key} in {path} must be a list of strings "
                f'(e.g. {key} = ["boto3", "botocore"])'
            )
    found = dict(table)
    if "regions" in found:
        if "replicate_to" in found:
            raise ConfigurationError(
                f"[tool.layer_builder] of {path} has both regions and replicate_to: keep "
                f"replicate_to (regions is its old name)"
            )
        _warn_renamed(path)
    return found


@functools.cache
def _warn_renamed(path: Path) -> None:
    """Once per file and process, however often the table is read."""
    logger.warning(
        "[tool.layer_builder] regions in %s is deprecated: rename it to replicate_to (the "
        "same table of region = S3 folder); --region is now the home region",
        path,
    )
