"""The ``layer-builder`` argument parser: subcommands and the flags they share."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from layer_builder._version import __version__
from layer_builder.cli.aws_options import add_access_arguments, add_s3_write_arguments
from layer_builder.cli.flag_values import DEFAULT_EXCLUDES, INSTALLERS
from layer_builder.cli.infra_outputs import add_output_arguments
from layer_builder.cli.operators import (
    OPERATOR_COMMANDS,
    add_grant_arguments,
    add_prune_arguments,
    add_region_arguments,
)
from layer_builder.cli.packaging import add_package_arguments, add_package_identity_arguments
from layer_builder.cli.reports import SBOM_COMMAND, add_report_arguments, add_sbom_arguments
from layer_builder.cli.target_flags import (
    MATRIX_COMMAND,
    add_matrix_arguments,
    add_target_arguments,
)

COMMANDS = {
    "build": "install the locked dependencies into build/lambda/layer/artifacts/python/",
    "package": "zip the built tree into build/lambda/layer/layer.zip",
    "upload": "upload layer.zip to <s3dir>/layer/zips/<sha256>.zip, staged as layer/layer.zip",
    "publish": "publish the staged zip as a layer version, if the dependencies changed",
    "run": "build, package, upload and publish",
    **SBOM_COMMAND,
    **OPERATOR_COMMANDS,
    **MATRIX_COMMAND,
}
NEEDS_AWS = {"upload", "publish", "run", *OPERATOR_COMMANDS}


def _group(*adders: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    for add in adders:
        add(parent)
    return parent


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", default=".", help="project folder (default: .)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="show installer output")
    p.add_argument("-q", "--quiet", action="store_true", help="show warnings only")


def _add_install_identity(p: argparse.ArgumentParser) -> None:
    """What decides the installed tree: the commands that check a tree or zip need them too."""
    p.add_argument(
        "--tool", help="uv, poetry, pylock, pipenv or pip (default: detected from the files)"
    )
    p.add_argument("--installer", choices=INSTALLERS,
                   help="what installs the requirements: uv (default) or pip")  # fmt: skip
    p.add_argument("--extra", action="append", dest="extras", metavar="NAME",
                   help="also install this extra (repeatable)")  # fmt: skip
    p.add_argument("--group", action="append", dest="groups", metavar="NAME",
                   help="also install this dependency group (repeatable)")  # fmt: skip
    p.add_argument("--allow-source", action="append", metavar="DIST",
                   help="build this pure-Python dist from source")  # fmt: skip
    p.add_argument("--container", choices=["docker", "podman"],
                   help="build in the runtime's SAM build image")  # fmt: skip


def _add_install(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index-url", metavar="URL", help="package index (credentials: use env)")
    p.add_argument("--extra-index-url", action="append", dest="extra_index_urls",
                   metavar="URL", help="another package index (repeatable)")  # fmt: skip
    p.add_argument("--codeartifact", metavar="DOMAIN/REPO[@OWNER]",
                   help="use this AWS CodeArtifact repository as the index")  # fmt: skip
    p.add_argument("--rebuild", action="store_true",
                   help="reinstall even when the last build's record matches (run: build "
                        "and package, then publish if the zip's bytes differ from the newest "
                        "version's)")  # fmt: skip


def _add_package_identity(p: argparse.ArgumentParser) -> None:
    """What decides the zip's content: the commands that check a zip need them too."""
    p.add_argument("--exclude", action="append", metavar="DIST",
                   help="leave this distribution out of the zip (repeatable); replaces "
                        f"the default {', '.join(DEFAULT_EXCLUDES)} (whose build tools stay "
                        "when a kept distribution requires them)")  # fmt: skip
    add_package_identity_arguments(p)


def _add_layer_name(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layer-name", help="Lambda layer name")


def _add_s3dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--s3dir", help="S3 folder for the layer, e.g. s3://bucket/app/lambda/")


def _add_local(p: argparse.ArgumentParser) -> None:
    p.add_argument("--local", action="store_true",
                   help="run against an embedded moto server on 127.0.0.1")  # fmt: skip


def _add_bucket_owner(p: argparse.ArgumentParser) -> None:
    p.add_argument("--expected-bucket-owner", metavar="ACCOUNT_ID",
                   help="the AWS account that must own every S3 bucket used (sent as "
                        "ExpectedBucketOwner on each S3 call)")  # fmt: skip


def _add_publish(p: argparse.ArgumentParser) -> None:
    p.add_argument("--description", help="text before the version stamp in Description")
    p.add_argument("--license-info", help="LicenseInfo of the published version")
    p.add_argument("--force", action="store_true", help="publish even if nothing changed")
    p.add_argument("--storage-mode", choices=["COPY", "REFERENCE"],
                   help="Lambda's S3ObjectStorageMode (REFERENCE needs a versioned "
                        "bucket)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The parser; each subcommand takes only the flags it uses."""
    common = _group(_add_common)
    built_for = _group(add_target_arguments, _add_install_identity)
    install = _group(_add_install)
    layer_identity = _group(_add_package_identity)
    package = _group(add_package_arguments)
    aws = _group(_add_layer_name, _add_s3dir, _add_local, _add_bucket_owner)
    access = _group(add_access_arguments)
    writes = _group(add_s3_write_arguments)
    publish = _group(_add_publish)
    regions = _group(add_region_arguments)
    grants = _group(add_grant_arguments)
    retention = _group(add_prune_arguments)
    report = _group(add_report_arguments)
    outputs = _group(add_output_arguments)
    run = [common, built_for, install, layer_identity, package, aws, access, writes, publish,
           regions, grants, outputs]  # fmt: skip
    parents = {
        # --profile and --region reach CodeArtifact (--codeartifact).
        "build": [common, built_for, install, access],
        "package": [common, built_for, layer_identity, package, report],
        "sbom": [common, _group(add_sbom_arguments)],
        "upload": [common, built_for, layer_identity, aws, access, writes],
        "publish": [common, built_for, layer_identity, aws, access, writes, publish, outputs],
        "run": run,
        # plan shows what run would do, so it takes exactly run's flags.
        "plan": run,
        "prune": [common, aws, access, regions, retention],
        # Every flag of run, passed on to each job's run.
        "matrix": [*run, _group(add_matrix_arguments)],
    }
    parser = argparse.ArgumentParser(
        prog="layer-builder",
        description="Turn a project's locked dependencies into a published AWS Lambda layer.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        # matrix passes its arguments on as written: no abbreviated option names.
        sub.add_parser(name, parents=parents[name], help=help_text, description=help_text,
                       allow_abbrev=name != "matrix")  # fmt: skip
    return parser
