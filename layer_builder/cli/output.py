"""What the command prints: ``--json`` documents on stdout, human lines, stderr logging."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from layer_builder.aws.console import layer_version_console_url
from layer_builder.cli.diff import diff_lines
from layer_builder.cli.infra_outputs import output_lines
from layer_builder.cli.operators import human_lines as operator_lines
from layer_builder.cli.operators import region_lines
from layer_builder.cli.packaging import package_json, package_lines

if TYPE_CHECKING:
    from layer_builder.steps.build import BuildResult
    from layer_builder.steps.package.step import PackageResult
    from layer_builder.steps.publish.step import PublishResult
    from layer_builder.steps.upload import UploadResult


def build_json(result: BuildResult) -> dict[str, Any]:
    """The ``--json`` object of ``build``."""
    return {
        "dir_python": str(result.dir_python),
        "runtime": result.target.runtime,
        "architecture": result.target.architecture,
        "manifest": result.manifest.filename,
        "manifest_sha256": result.manifest.sha256,
        "distributions": {d.name: d.version for d in result.distributions},
        "cached": result.cached,
    }


def package_result_json(result: PackageResult) -> dict[str, Any]:
    """The ``--json`` keys of a package result (``package``, and ``run`` that built)."""
    return {
        "path": str(result.path_zip),
        "zip_sha256": result.sha256,
        "zip_size": result.zip_size,
        "unzipped_size": result.unzipped_size,
        "files": result.files,
        "fingerprint": result.fingerprint,
        "excluded": list(result.excluded),
        **package_json(result),
    }


def upload_json(result: UploadResult) -> dict[str, Any]:
    """The ``--json`` keys of an upload result."""
    return {
        "s3_uri": result.s3_uri,
        "version_id": result.version_id,
        "etag": result.etag,
        "zip_sha256": result.zip_sha256,
        "manifest_sha256": result.manifest_sha256,
        "fingerprint": result.fingerprint,
        "console_url": result.console_url,
        "uploaded": result.uploaded,
    }


def publish_json(result: PublishResult) -> dict[str, Any]:
    """The ``--json`` keys of a publish result."""
    return {
        "published": result.published,
        "reason": result.reason,
        "layer_version": result.layer_version,
        "layer_version_arn": result.layer_version_arn,
        "layer_version_console_url": layer_version_console_url(result.layer_version_arn),
        "s3_uri_manifest": result.s3path_manifest.uri if result.s3path_manifest else None,
        "universal": result.universal,
    }


def setup_logging(args: argparse.Namespace) -> None:
    """Send the ``layer_builder`` log to stderr at the level ``-v``/``-q`` ask for."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("layer-builder: %(message)s"))
    root = logging.getLogger("layer_builder")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(
        logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    )


def print_human(command: str, data: dict[str, Any]) -> None:
    """Print the human summary of ``command``'s result on stdout."""
    lines = operator_lines(command, data)
    if lines is not None:
        print("\n".join(lines))
        return
    if command in ("run", "publish"):
        state = "published" if data["published"] else "unchanged, not published"
        print(f"{state}: {data['layer_version_arn']}")
        print(f"reason: {data['reason']}")
        if data.get("layer_version_console_url"):
            print(f"console: {data['layer_version_console_url']}")
        if data["published"] and data.get("diff"):
            print("\n".join(diff_lines(data["diff"])))
        for line in region_lines(data) + output_lines(data):
            print(line)
    elif command == "upload":
        print(data["s3_uri"])
        print(data["console_url"])
    elif command == "package":
        print("\n".join(package_lines(data)))
    else:
        print(data["dir_python"])


def file_error_text(exc: OSError) -> str:
    """What the file system refused, as the CLI's one line (a file where a folder must be, no
    permission, no space); ``-v`` shows where it happened."""
    where = f": {exc.filename}" if exc.filename else ""
    return (
        f"{exc.strerror or exc}{where}: check that path (permissions, free space, a file in "
        f"the way of a folder)"
    )
