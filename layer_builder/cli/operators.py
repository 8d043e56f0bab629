"""The operator side of the ``layer-builder`` command: regions, grants, ``plan``, ``prune``.

Kept apart from ``main.py`` so that the core command stays small; ``main.py`` calls in here.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layer_builder.cli.config import load_project_config, setting
from layer_builder.errors import ConfigurationError

# The operations talk to AWS: imported by the functions that use them, so that the parser
# (which adds these flags) and `build` and `package` (which read workflow_settings) never
# load boto3 (tests/test_startup.py).
if TYPE_CHECKING:
    from layer_builder.operations.regions import RegionTarget
    from layer_builder.operations.retention import PruneResult
    from layer_builder.operations.sharing import Grant
    from layer_builder.workflow import LayerWorkflow, WorkflowResult

OPERATOR_COMMANDS = {
    "plan": "show what run would do (build, upload, publish, regions, grants); changes nothing",
    "prune": "delete old layer versions (keep the last N and/or recent ones), the zips no kept "
    "version needs and unfinished uploads; dry run unless --yes",
}


def add_region_arguments(parser: argparse.ArgumentParser) -> None:
    """``--replicate-to REGION=S3DIR`` (repeatable)."""
    parser.add_argument("--replicate-to", action="append", dest="replicate_to",
                        metavar="REGION=S3DIR",
                        help="also publish in REGION from a bucket there (repeatable), e.g. "
                             "eu-west-1=s3://my-bucket-eu/app/lambda/")  # fmt: skip


def add_grant_arguments(parser: argparse.ArgumentParser) -> None:
    """``--grant-account``, ``--grant-org`` and ``--grant-public``."""
    parser.add_argument("--grant-account", action="append", dest="grant_accounts",
                        metavar="ACCOUNT_ID", help="let this AWS account use the layer "
                        "(repeatable)")  # fmt: skip
    parser.add_argument("--grant-org", action="append", dest="grant_orgs", metavar="ORG_ID",
                        help="let this AWS organization use the layer (repeatable)")  # fmt: skip
    parser.add_argument("--grant-public", action="store_true",
                        help="let every AWS account use the layer")  # fmt: skip


def add_prune_arguments(parser: argparse.ArgumentParser) -> None:
    """The retention flags of ``prune`` (``--keep-last``, ``--newer-than-days``, ...)."""
    parser.add_argument("--keep-last", type=int, metavar="N",
                        help="keep the N newest versions")  # fmt: skip
    parser.add_argument("--newer-than-days", type=float, metavar="D",
                        help="keep versions younger than D days")  # fmt: skip
    parser.add_argument("--yes", action="store_true", help="really delete")


def region_targets(args: argparse.Namespace, config: dict[str, Any]) -> list[RegionTarget]:
    """``--replicate-to`` flags, else ``replicate_to = {region = "s3://..."}`` in
    [tool.layer_builder] (``regions``, its old name, is still read)."""
    key = "regions" if "regions" in config else "replicate_to"
    table = config.get(key) or {}
    if not getattr(args, "replicate_to", None) and not table:
        return []
    from layer_builder.operations.regions import RegionTarget

    if getattr(args, "replicate_to", None):
        return [RegionTarget.parse(text) for text in args.replicate_to]
    for region, s3dir in table.items():
        if not isinstance(s3dir, str):
            raise ConfigurationError(
                f"[tool.layer_builder] {key}.{region} must be an S3 folder string "
                f'(e.g. replicate_to = {{ eu-west-1 = "s3://my-bucket-eu/app/lambda/" }})'
            )
    return [RegionTarget(region, s3dir) for region, s3dir in table.items()]


def grants(args: argparse.Namespace, config: dict[str, Any]) -> list[Grant]:
    """The grants the flags, else the project's keys, ask for."""
    accounts = setting(args, config, "grant_accounts", "grant_accounts") or []
    orgs = setting(args, config, "grant_orgs", "grant_orgs") or []
    public = setting(args, config, "grant_public", "grant_public")
    if not (accounts or orgs or public):
        return []
    from layer_builder.operations.sharing import Grant

    found = [Grant.account(str(a)) for a in accounts]
    found += [Grant.organization(str(o)) for o in orgs]
    if public:
        found.append(Grant.everyone())
    return found


def workflow_settings(args: argparse.Namespace, config: dict[str, Any]) -> dict[str, Any]:
    """The ``LayerWorkflow`` arguments the operator flags give."""
    return {"regions": region_targets(args, config), "grants": grants(args, config)}


#: Without --s3dir, prune still works on the versions; the S3 folder then goes unchecked.
NO_STORAGE: dict[str, Any] = {
    "s3_uri_layer": None,
    "zips_deleted": [],
    "zips_deleted_bytes": 0,
    "zips_kept": [],
    "uploads_aborted": [],
    "uploads_in_progress": [],
}


def _prune_json(result: PruneResult) -> dict[str, Any]:
    return {
        "layer_name": result.layer_name,
        "dry_run": result.dry_run,
        "kept": [v.version for v in result.kept],
        "deleted": [v.version for v in result.deleted],
        "deleted_arns": [v.arn for v in result.deleted],
        **(result.storage.to_json() if result.storage else NO_STORAGE),
    }


def _s3dir_given(args: argparse.Namespace) -> bool:
    project = Path(args.project)
    return bool(args.s3dir or (project.is_dir() and load_project_config(project).get("s3dir")))


def execute_operator_command(args: argparse.Namespace, workflow: LayerWorkflow) -> dict[str, Any]:
    """Run ``plan`` or ``prune``; the ``--json`` data."""
    from layer_builder.model.layout import LayerS3Layout
    from layer_builder.operations.retention import RetentionPolicy, prune
    from layer_builder.plan import plan_run

    if args.command == "plan":
        return plan_run(workflow).to_json()
    policy = RetentionPolicy(keep_last=args.keep_last, newer_than_days=args.newer_than_days)
    aws = workflow.aws
    with_storage = _s3dir_given(args)
    result = prune(aws.lambda_, workflow.layer_name, policy, yes=args.yes,
                   s3=aws.s3 if with_storage else None,
                   s3_layout=workflow.s3_layout if with_storage else None)  # fmt: skip
    # Each --replicate-to region has its own versions and S3 folder: the same rule there too.
    regions = []
    for region in workflow.regions:
        region_aws = workflow.region_aws(region.region)
        pruned = prune(region_aws.lambda_, workflow.layer_name, policy, yes=args.yes,
                       s3=region_aws.s3, s3_layout=LayerS3Layout(region.s3dir_lambda))  # fmt: skip
        regions.append({"region": region.region, **_prune_json(pruned)})
    return {"region": aws.region, **_prune_json(result), "regions": regions}


def run_extras_json(result: WorkflowResult) -> dict[str, Any]:
    """What ``run --json`` adds for regions, grants and the layer's diff."""
    from layer_builder.aws.console import layer_version_console_url

    return {
        "diff": result.diff.to_json() if result.diff is not None else None,
        "regions": [
            {
                "region": r.region,
                "published": r.publish.published if r.publish else None,
                "reason": r.publish.reason if r.publish else None,
                "layer_version": r.publish.layer_version if r.publish else None,
                "layer_version_arn": r.publish.layer_version_arn if r.publish else None,
                "layer_version_console_url": (
                    layer_version_console_url(r.publish.layer_version_arn) if r.publish else None
                ),
                "error": r.error,
            }
            for r in result.regions
        ],
        "grants": [
            {
                "grant": g.grant.description,
                "layer_version_arn": g.layer_version_arn,
                "added": g.added,
            }
            for g in result.grants
        ],
    }


def human_lines(command: str, data: dict[str, Any]) -> list[str] | None:
    """The human output of ``plan`` and ``prune`` (None for other commands)."""
    from layer_builder.cli.diff import diff_lines

    if command == "plan":
        lines = [f"build: {'yes' if data['build'] else 'no'}; upload: {data['upload']}"]
        for plan in (data, *data["regions"]):
            action = f"publish version {plan['next_version']}" if plan["publish"] else "no publish"
            lines.append(f"{plan['region']}: {action} ({plan['reason']})")
            if plan is data and data["publish"] and data.get("diff"):
                lines += diff_lines(data["diff"])
            lines += [f"{plan['region']}: grant {grant}" for grant in plan["grants_to_add"]]
            lines += [
                f"{plan['region']}: unfinished multipart upload of {u['s3_uri']} (started "
                f"{u['initiated']}): `prune --yes` aborts it once a day old"
                for u in plan["incomplete_uploads"]
            ]
        return lines
    if command == "prune":
        return _prune_lines(data)
    return None


def _prune_lines(data: dict[str, Any]) -> list[str]:
    dry = data["dry_run"]
    lines = []
    for pruned in (data, *data["regions"]):
        where = f"{pruned['region']}: " if data["regions"] else ""
        deleted = ", ".join(map(str, pruned["deleted"])) or "nothing"
        kept = ", ".join(map(str, pruned["kept"])) or "nothing"
        lines.append(f"{where}{'would delete' if dry else 'deleted'}: {deleted}; kept: {kept}")
        if pruned["s3_uri_layer"] is None:
            lines.append(f"{where}zips and unfinished uploads: not checked (no --s3dir)")
            continue
        zips = len(pruned["zips_deleted"])
        if zips or pruned["zips_kept"]:
            lines.append(
                f"{where}zips no kept version needs: {zips} ({pruned['zips_deleted_bytes']:,} "
                f"bytes) {'to delete' if dry else 'deleted'}; kept: {len(pruned['zips_kept'])}"
            )
        for upload in pruned["uploads_aborted"]:
            lines.append(f"{where}{'would abort' if dry else 'aborted'} the unfinished upload "
                         f"of {upload['s3_uri']} (started {upload['initiated']})")  # fmt: skip
        for upload in pruned["uploads_in_progress"]:
            lines.append(f"{where}left alone, started less than a day ago: the upload of "
                         f"{upload['s3_uri']} (started {upload['initiated']})")  # fmt: skip
    changes = ("deleted", "zips_deleted", "uploads_aborted")
    if dry and any(p[key] for p in (data, *data["regions"]) for key in changes):
        lines.append("dry run: pass --yes to delete")
    return lines


def region_lines(data: dict[str, Any]) -> list[str]:
    """``run``'s line per extra region."""
    return [
        f"{r['region']}: {r['layer_version_arn']} ({r['reason']})" for r in data.get("regions", [])
    ]
