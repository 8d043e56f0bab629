"""The ``layer-builder`` argument parser: subcommands and the flags they share."""

from __future__ import annotations

import argparse

from layer_builder._version import __version__
from layer_builder.cli.operators import OPERATOR_COMMANDS, add_operator_arguments
from layer_builder.cli.packaging import add_package_arguments
from layer_builder.steps.package.step import DEFAULT_EXCLUDES

COMMANDS = {
    "build": "install the locked dependencies into build/lambda/layer/artifacts/python/",
    "package": "zip the built tree into build/lambda/layer/layer.zip",
    "upload": "upload layer.zip to <s3dir>/layer/layer.zip",
    "publish": "publish the uploaded zip as a layer version, if the dependencies changed",
    "run": "build, package, upload and publish",
    **OPERATOR_COMMANDS,
}
NEEDS_AWS = {"upload", "publish", "run", *OPERATOR_COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", default=".", help="project folder (default: .)")
    common.add_argument("--layer-name", help="Lambda layer name")
    common.add_argument("--s3dir", help="S3 folder for the layer, e.g. s3://bucket/app/lambda/")
    common.add_argument("--python", help="Lambda Python version (default: 3.12)")
    common.add_argument("--arch", help="x86_64 or arm64 (default: x86_64)")
    common.add_argument("--tool", help="uv, poetry or pip (default: detected from the files)")
    common.add_argument("--extra", action="append", dest="extras", metavar="NAME",
                        help="also install this extra (repeatable)")  # fmt: skip
    common.add_argument("--group", action="append", dest="groups", metavar="NAME",
                        help="also install this dependency group (repeatable)")  # fmt: skip
    common.add_argument("--allow-source", action="append", metavar="DIST",
                        help="build this pure-Python dist from source")  # fmt: skip
    common.add_argument("--container", choices=["docker", "podman"],
                        help="build in the runtime's SAM build image")  # fmt: skip
    common.add_argument("--index-url", metavar="URL",
                        help="package index (credentials: use env)")  # fmt: skip
    common.add_argument("--extra-index-url", action="append", dest="extra_index_urls",
                        metavar="URL", help="another package index (repeatable)")  # fmt: skip
    common.add_argument("--codeartifact", metavar="DOMAIN/REPO[@OWNER]",
                        help="use this AWS CodeArtifact repository as the index")  # fmt: skip
    common.add_argument("--exclude", action="append", metavar="DIST",
                        help="leave this distribution out of the zip (repeatable); replaces "
                             f"the default {', '.join(DEFAULT_EXCLUDES)}")  # fmt: skip
    add_package_arguments(common)
    common.add_argument("--description", help="text before the version stamp in Description")
    common.add_argument("--license-info", help="LicenseInfo of the published version")
    common.add_argument("--force", action="store_true", help="publish even if nothing changed")
    common.add_argument("--rebuild", action="store_true",
                        help="reinstall even when the last build's record matches")  # fmt: skip
    common.add_argument("--storage-mode", choices=["COPY", "REFERENCE"],
                        help="Lambda's S3ObjectStorageMode (REFERENCE needs a versioned "
                             "bucket)")  # fmt: skip
    add_operator_arguments(common)
    common.add_argument("--local", action="store_true",
                        help="run against an embedded moto server on 127.0.0.1")  # fmt: skip
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    common.add_argument("-v", "--verbose", action="store_true", help="show installer output")
    common.add_argument("-q", "--quiet", action="store_true", help="show warnings only")
    parser = argparse.ArgumentParser(
        prog="layer-builder",
        description="Turn a project's locked dependencies into a published AWS Lambda layer.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, parents=[common], help=help_text, description=help_text)
    return parser
