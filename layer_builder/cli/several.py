"""``build``, ``package``, ``run`` and ``plan`` for several targets: a ``MatrixRun``, one
``--json`` object per target (a list), a summary table, and a non-zero exit code when any
target failed (every target's outcome is still reported)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from layer_builder.cli.config import load_project_config, project_folder
from layer_builder.cli.infra_outputs import GITHUB_OUTPUT, ssm_template, warn_without_github_output
from layer_builder.cli.infra_outputs import write_outputs as write_target_outputs
from layer_builder.cli.output import build_json, file_error_text, package_result_json
from layer_builder.cli.parser import NEEDS_AWS
from layer_builder.cli.reports import write_report
from layer_builder.cli.settings import make_workflow, shows_progress
from layer_builder.errors import ConfigurationError, LayerBuilderError
from layer_builder.matrix import MatrixResult, MatrixRun, TargetLogFilter, TargetOutcome
from layer_builder.model.target import LayerTarget, TargetSet
from layer_builder.steps.package.size_report import format_size
from layer_builder.steps.universal import Universality

if TYPE_CHECKING:
    from layer_builder.aws.clients import AwsClients

logger = logging.getLogger("layer_builder.cli")


def output_suffix(target_name: str) -> str:
    """``python3_12_arm64``: a target's name as a ``$GITHUB_OUTPUT`` or Terraform key part."""
    return re.sub(r"[^A-Za-z0-9]", "_", target_name)


@attrs.frozen
class SeveralReport:
    """What a several-target command prints, and its exit code."""

    command: str
    #: The ``--json`` list: one object per target, in the order the targets were given.
    entries: list[dict[str, Any]]
    #: The human summary: the table, the universal verdict, the ARNs.
    lines: list[str]

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The objects of the targets that failed."""
        return [e for e in self.entries if not e["ok"]]

    def show(self, args: argparse.Namespace) -> int:
        """Print the result (stdout stays machine-readable with ``--json``); returns the
        exit code, 1 when any target failed."""
        if getattr(args, "json_strings", False):
            print(json.dumps(json_strings(self.entries), sort_keys=True))
        elif args.json:
            print(json.dumps(self.entries, sort_keys=True))
        else:
            print("\n".join(self.lines))
        if (args.json or getattr(args, "json_strings", False)) and shows_progress(args):
            print("\n".join(self.lines), file=sys.stderr)
        for entry in self.failed:
            print(f"layer-builder: error: {entry['target']}: {entry['error']}", file=sys.stderr)
        return 1 if self.failed else 0


def execute_several(
    args: argparse.Namespace, aws: AwsClients | None, targets: TargetSet
) -> SeveralReport:
    """Run ``args.command`` (build, package, run or plan) for every target."""
    project = project_folder(args)
    config = load_project_config(project)
    # Everything checked once, and the index resolved once, before any target starts.
    base = make_workflow(args, aws, target=targets.first)
    if aws is None and args.command in NEEDS_AWS:
        aws = base.aws  # one set of clients for every target (made here, not in a worker)
    installer = base.build_options.installer

    def make(**overrides: Any) -> Any:
        # No progress bar: several uploads would draw over one another.
        return make_workflow(args, aws, installer=installer, upload_progress=None, **overrides)

    matrix = MatrixRun(make, targets)
    if args.command == "run":
        _check_outputs(args, config, matrix)
    _prefix_log_lines()
    result: MatrixResult[Any] = getattr(matrix, args.command)()
    entries = [_entry(args, config, matrix, outcome) for outcome in result]
    if args.command == "run":
        _github_output(args, matrix, entries)
    return SeveralReport(args.command, entries, summary(args.command, entries, result.universality))


def _prefix_log_lines() -> None:
    """``layer-builder: python3.12-arm64: installing ...``: say which target a line is about."""
    for handler in logging.getLogger("layer_builder").handlers:
        handler.addFilter(TargetLogFilter())
        handler.setFormatter(logging.Formatter("layer-builder: %(layer_target)s%(message)s"))


def _check_outputs(args: argparse.Namespace, config: dict[str, Any], matrix: MatrixRun) -> None:
    warn_without_github_output(args)  # once for the command, not once per target
    template = ssm_template(args, config)
    if template is None:
        return
    names: dict[str, LayerTarget] = {}
    for target, workflow in matrix.workflows.items():
        name = template.render(workflow.layer_name, target, workflow.aws.region)
        if name in names:
            raise ConfigurationError(
                f"--ssm-parameter {template.template!r} gives {names[name].name} and "
                f"{target.name} the same parameter {name}: put {{target}} in it (e.g. "
                f"'/layers/{{layer_name}}/{{target}}')"
            )
        names[name] = target


def _entry(
    args: argparse.Namespace, config: dict[str, Any], matrix: MatrixRun, outcome: TargetOutcome[Any]
) -> dict[str, Any]:
    """The ``--json`` object of one target."""
    target = outcome.target
    entry: dict[str, Any] = {
        "target": target.name,
        "runtime": target.runtime,
        "architecture": target.architecture,
        "ok": outcome.ok,
        "error": None if outcome.error is None else error_text(outcome.error),
        "universal": outcome.universal,
    }
    if outcome.result is None:
        return entry
    command = args.command
    if command == "build":
        return {**entry, **build_json(outcome.result)}
    if command == "package":
        return {**entry, **package_result_json(outcome.result), **_report(args, outcome)}
    if command == "plan":
        return {**entry, **outcome.result.to_json()}
    from layer_builder.cli.main import run_json  # main imports this module

    workflow = matrix.universal_workflow if outcome.universal else matrix.workflows[target]
    data = {**entry, **run_json(workflow, outcome.result)}
    quiet_args = argparse.Namespace(**{**vars(args), "github_output": False})
    return {**data, **write_target_outputs(quiet_args, config, matrix.workflows[target], data)}


def _report(args: argparse.Namespace, outcome: TargetOutcome[Any]) -> dict[str, Any]:
    """``--report page.html``: ``page-python3.12-arm64.html`` per target (one page for a
    universal zip)."""
    if not getattr(args, "report", None) or outcome.result is None:
        return {}
    path = Path(args.report)
    name = "universal" if outcome.universal else outcome.target.name
    per_target = argparse.Namespace(report=str(path.with_name(f"{path.stem}-{name}{path.suffix}")))
    return write_report(per_target, outcome.result)


def error_text(exc: Exception) -> str:
    """An error as the one line the CLI prints (any error, not only ours: one target's bug
    must not hide the others' outcomes)."""
    if isinstance(exc, LayerBuilderError):
        return str(exc)
    if isinstance(exc, OSError):
        return file_error_text(exc)
    return f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)"


def _github_output(
    args: argparse.Namespace, matrix: MatrixRun, entries: list[dict[str, Any]]
) -> None:
    """``--github-output``: ``layer_version_arn_<target>`` (and ``layer_version_``,
    ``published_``, ``layer_version_arn_<region>_``) per target that succeeded."""
    from layer_builder.operations.outputs import append_github_output, as_string, region_arns

    path = os.environ.get(GITHUB_OUTPUT)
    if not getattr(args, "github_output", False) or not path:
        return
    values = {}
    for target, entry in zip(matrix.targets, entries, strict=True):
        if entry["ok"]:
            suffix = output_suffix(target.name)
            for key in ("layer_version_arn", "layer_version", "published"):
                values[f"{key}_{suffix}"] = as_string(entry[key])
            for key, arn in region_arns(entry).items():
                values[f"{key}_{suffix}"] = arn
    append_github_output(Path(path), values)


def json_strings(entries: list[dict[str, Any]]) -> dict[str, str]:
    """``--json-strings`` of several targets: each target's flat strings with its name as a
    suffix (``layer_version_arn_python3_12_arm64``), plus ``targets`` and ``failed``."""
    from layer_builder.operations.outputs import flat_strings

    flat: dict[str, str] = {
        "targets": ",".join(e["target"] for e in entries),
        "failed": ",".join(e["target"] for e in entries if not e["ok"]),
    }
    for entry in entries:
        suffix = output_suffix(entry["target"])
        for key, value in flat_strings(entry).items():
            if key not in ("target", "runtime", "architecture"):
                flat[f"{key}_{suffix}"] = value
    return flat


# -- the summary ---------------------------------------------------------------------------

_COLUMNS = {
    "build": ("target", "build", "distributions", "tree"),
    "package": ("target", "package", "zip size", "zip"),
    "run": ("target", "outcome", "version", "reason"),
    "plan": ("target", "plan", "version", "reason"),
}


def summary(command: str, entries: list[dict[str, Any]], verdict: Universality | None) -> list[str]:
    """The table (one row per target), then the universal verdict and, for ``run``, the ARNs."""
    rows = [_row(command, e) for e in entries]
    lines = table(_COLUMNS[command], rows)
    if verdict is not None:
        state = "universal" if verdict.universal else "not universal"
        lines.append(f"{state}: {verdict.reason}")
    if command == "run":
        lines += [f"{e['target']}: {e['layer_version_arn']}" for e in entries if e["ok"]]
        lines += [
            f"{e['target']}: SSM parameter {w['name']} ({w['region']}): "
            f"{'set to' if w['written'] else 'already holds'} {w['value']}"
            for e in entries
            for w in e.get("ssm_parameters", [])
        ]
    return lines


def _row(command: str, e: dict[str, Any]) -> tuple[str, ...]:
    if not e["ok"]:
        return (e["target"], "FAILED", "", e["error"].splitlines()[0])
    shared = " (universal)" if e["universal"] else ""
    if command == "build":
        outcome = "reused" if e["cached"] else "built"
        return (e["target"], outcome, str(len(e["distributions"])), e["dir_python"])
    if command == "package":
        return (e["target"], f"zipped{shared}", format_size(e["zip_size"]), e["path"])
    if command == "plan":
        current = e["current_version"]
        version = f"{current or '-'} -> {e['next_version']}" if e["publish"] else str(current)
        return (e["target"], "publish" if e["publish"] else "no change", version, e["reason"])
    outcome = ("published" if e["published"] else "unchanged") + shared
    return (e["target"], outcome, str(e["layer_version"]), e["reason"])


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns, two spaces apart; the last column is not padded."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        return "  ".join([*cells, row[-1]]).rstrip()

    return [line(header), *(line(r) for r in rows)]
