"""The ``layer-builder`` command: a thin shell over ``LayerWorkflow`` and the steps."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import boto3

from layer_builder._version import __version__
from layer_builder.aws import AwsClients, aws_errors, head_object_or_none
from layer_builder.cli_ops import (
    OPERATOR_COMMANDS,
    add_operator_arguments,
    execute_operator_command,
    region_lines,
    region_targets,
    run_extras_json,
    workflow_settings,
)
from layer_builder.cli_ops import human_lines as operator_lines
from layer_builder.codeartifact import CodeArtifactRepository
from layer_builder.config import load_project_config
from layer_builder.distributions import find_distributions
from layer_builder.errors import AwsError, ConfigurationError, LayerBuilderError, ProjectError
from layer_builder.installers import IndexOptions, Installer, InstallOptions
from layer_builder.layout import LayerPathLayout, parse_s3dir
from layer_builder.manifest import Manifest
from layer_builder.package_cli import (
    add_package_arguments,
    package_json,
    package_lines,
    package_options,
)
from layer_builder.progress import TerminalProgress
from layer_builder.steps.build import BuildResult, build_fingerprint, make_installer
from layer_builder.steps.package import DEFAULT_EXCLUDES, PackageResult
from layer_builder.steps.publish import PublishResult
from layer_builder.steps.upload import UploadResult
from layer_builder.target import LayerTarget
from layer_builder.wheel_check import incompatible_wheels
from layer_builder.workflow import LayerWorkflow

logger = logging.getLogger("layer_builder.cli")

COMMANDS = {
    "build": "install the locked dependencies into build/lambda/layer/artifacts/python/",
    "package": "zip the built tree into build/lambda/layer/layer.zip",
    "upload": "upload layer.zip to <s3dir>/layer/layer.zip",
    "publish": "publish the uploaded zip as a layer version, if the dependencies changed",
    "run": "build, package, upload and publish",
    **OPERATOR_COMMANDS,
}
_NEEDS_AWS = {"upload", "publish", "run", *OPERATOR_COMMANDS}


def _parser() -> argparse.ArgumentParser:
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


def _setting(args: argparse.Namespace, config: dict[str, Any], flag: str, key: str) -> Any:
    value = getattr(args, flag)
    return value if value not in (None, False) else config.get(key)


def _make_installer(
    args: argparse.Namespace,
    config: dict[str, Any],
    project: Path,
    aws: AwsClients | None,
    resolve_index: bool = True,
) -> Installer:
    """The build's installer, with the index, extras, groups and container asked for."""
    tool = Manifest.from_project(project, _setting(args, config, "tool", "tool")).tool
    index = IndexOptions(
        index_url=_setting(args, config, "index_url", "index_url"),
        extra_index_urls=_setting(args, config, "extra_index_urls", "extra_index_urls") or (),
    )
    codeartifact = _setting(args, config, "codeartifact", "codeartifact")
    if codeartifact and args.command in ("build", "run") and resolve_index:
        repository = CodeArtifactRepository.parse(codeartifact)
        session = aws.session if aws is not None and aws.session is not None else None
        client = (session or boto3.session.Session()).client("codeartifact")
        index = attrs.evolve(index, index_url=repository.index_url(client))
    options = InstallOptions(
        extras=_setting(args, config, "extras", "extras") or (),
        groups=_setting(args, config, "groups", "groups") or (),
        allow_source=_setting(args, config, "allow_source", "allow_source") or (),
    )
    container = _setting(args, config, "container", "container")
    return make_installer(tool, index=index, options=options, container=container)


def _make_workflow(
    args: argparse.Namespace, aws: AwsClients | None, resolve_index: bool = True
) -> LayerWorkflow:
    """Everything the user gave, validated before any work starts (``resolve_index=False``:
    without asking CodeArtifact for the index, to validate before clients exist)."""
    project = Path(args.project).resolve()
    if not project.is_dir():
        problem = "is not a folder" if project.exists() else "does not exist"
        raise ProjectError(f"project folder {project} {problem}: check --project")
    config = load_project_config(project)
    python = _setting(args, config, "python", "python")
    arch = _setting(args, config, "arch", "arch")
    # An empty --python "" is a mistake to report, not a request for the default.
    target = LayerTarget(
        python_version="3.12" if python is None else python,
        architecture="x86_64" if arch is None else arch,
    )
    excludes = _setting(args, config, "exclude", "exclude")
    options = package_options(args, config, excludes)
    layer_name = _setting(args, config, "layer_name", "layer_name")
    s3dir = _setting(args, config, "s3dir", "s3dir")
    if args.command in _NEEDS_AWS:
        if not layer_name and args.command != "upload":
            raise ConfigurationError(
                "no layer name: pass --layer-name or set layer_name in [tool.layer_builder]"
            )
        if not s3dir and args.command != "prune":
            raise ConfigurationError(
                "no S3 folder: pass --s3dir s3://bucket/prefix/ or set s3dir in "
                "[tool.layer_builder]"
            )
    workflow = LayerWorkflow(
        project_dir=project,
        layer_name=layer_name or "unnamed",
        s3dir_lambda=s3dir or "s3://unset/",
        target=target,
        tool=_setting(args, config, "tool", "tool"),
        installer=_make_installer(args, config, project, aws, resolve_index),
        package_options=options,
        aws=aws,
        description=_setting(args, config, "description", "description") or "",
        license_info=_setting(args, config, "license_info", "license_info"),
        storage_mode=_setting(args, config, "storage_mode", "storage_mode"),
        force=args.force,
        # Progress only where someone watches: a terminal, not a CI log or a pipe.
        upload_progress=TerminalProgress(sys.stderr) if _shows_progress(args) else None,
        **workflow_settings(args, config),
    )
    _ = workflow.manifest  # a missing manifest fails here, before anything runs
    return workflow


def _shows_progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() and not args.quiet


def _check_tree_matches(workflow: LayerWorkflow) -> None:
    """Refuse a tree that ``build`` made from another manifest or for another target: its
    zip would be stamped, uploaded and published as this target's layer."""
    dir_python = workflow.layout.dir_python
    foreign = incompatible_wheels(dir_python, workflow.target, built_natively=True)
    if foreign:
        raise ProjectError(
            f"{dir_python} holds wheels that {workflow.target.description} cannot load "
            f"({', '.join(w.name for w in foreign)}): pass the --python and --arch given to "
            f"`layer-builder build`, or build again"
        )
    try:
        record = json.loads(workflow.layout.path_build_record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # a tree made by hand or by an older version: trust the user
    installer = workflow.make_build_step().installer
    expected = build_fingerprint(workflow.manifest, workflow.target, installer)
    if isinstance(record, dict) and record.get("fingerprint") != expected:
        raise ProjectError(
            f"{dir_python} was built from another {workflow.manifest.filename} or with other "
            f"options (--python, --arch, --tool, extras, groups, container) than this "
            f"command's: pass the options given to `layer-builder build`, or build again"
        )


def _existing_build(workflow: LayerWorkflow) -> BuildResult:
    dir_python = workflow.layout.dir_python
    if not dir_python.is_dir():
        raise ProjectError(f"{dir_python} does not exist: run `layer-builder build` first")
    _check_tree_matches(workflow)
    return BuildResult(
        dir_python=dir_python,
        manifest=workflow.manifest,
        target=workflow.target,
        distributions=find_distributions(dir_python),
        installer="(existing tree)",
        install_options=workflow.make_build_step().installer.options,
    )


def _existing_package(workflow: LayerWorkflow) -> PackageResult:
    path_zip = workflow.layout.path_layer_zip
    if not path_zip.is_file():
        raise ProjectError(f"{path_zip} does not exist: run `layer-builder package` first")
    _check_tree_matches(workflow)
    return PackageResult.from_zip(path_zip, workflow.fingerprint)


def _existing_upload(workflow: LayerWorkflow) -> UploadResult:
    """The object ``upload`` left, checked against this command's manifest and options."""
    s3path = workflow.s3_layout.s3path_layer_zip
    if head_object_or_none(workflow.aws.s3, s3path) is None:
        raise AwsError(
            f"nothing uploaded at {s3path.uri}: run `layer-builder upload` first "
            f"(or `layer-builder run`)"
        )
    upload = UploadResult.from_s3_object(workflow.aws.s3, s3path)
    if upload.manifest_sha256 != workflow.manifest.sha256:
        raise ProjectError(
            f"{s3path.uri} was built from another {workflow.manifest.filename} than the one in "
            f"{workflow.project_dir}: run `layer-builder run` (or build, package and upload "
            f"again) before publishing"
        )
    if upload.fingerprint != workflow.fingerprint:
        raise ProjectError(
            f"{s3path.uri} was built for another target or package options than "
            f"{workflow.target.description}: pass the --python, --arch and --exclude it was "
            f"built with, or run `layer-builder run`"
        )
    return upload


def _build_json(result: BuildResult) -> dict[str, Any]:
    return {
        "dir_python": str(result.dir_python),
        "runtime": result.target.runtime,
        "architecture": result.target.architecture,
        "manifest": result.manifest.filename,
        "manifest_sha256": result.manifest.sha256,
        "distributions": {d.name: d.version for d in result.distributions},
    }


def _package_json(result: PackageResult) -> dict[str, Any]:
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


def _upload_json(result: UploadResult) -> dict[str, Any]:
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


def _publish_json(result: PublishResult) -> dict[str, Any]:
    return {
        "published": result.published,
        "reason": result.reason,
        "layer_version": result.layer_version,
        "layer_version_arn": result.layer_version_arn,
        "s3_uri_manifest": result.s3path_manifest.uri if result.s3path_manifest else None,
    }


def _execute(args: argparse.Namespace, aws: AwsClients | None) -> dict[str, Any]:
    workflow = _make_workflow(args, aws)
    command = args.command
    if command in OPERATOR_COMMANDS:
        return execute_operator_command(args, workflow)
    if command in _NEEDS_AWS:
        workflow.check()
    if command == "build":
        return _build_json(workflow.build())
    if command == "package":
        return _package_json(workflow.package(_existing_build(workflow)))
    if command == "upload":
        return _upload_json(workflow.upload(_existing_package(workflow)))
    if command == "publish":
        upload = _existing_upload(workflow)
        return {**_upload_json(upload), **_publish_json(workflow.publish(upload))}
    result = workflow.run()
    if result.package is None or result.upload is None:
        # The instant no-op: nothing was built or uploaded; the version already holds it.
        return {
            "skipped": True,
            "s3_uri": workflow.s3_layout.s3path_layer_zip.uri,
            "zip_sha256": result.zip_sha256,
            "fingerprint": result.fingerprint,
            **_publish_json(result.publish),
            **run_extras_json(result),
        }
    return {
        "skipped": False,
        **_package_json(result.package),
        **_upload_json(result.upload),
        **_publish_json(result.publish),
        **run_extras_json(result),
    }


@contextlib.contextmanager
def _aws_for(args: argparse.Namespace) -> Iterator[AwsClients | None]:
    """Clients for the embedded endpoint with ``--local``; None means boto3's default chain."""
    if not (args.local and args.command in _NEEDS_AWS):
        yield None
        return
    from layer_builder.local import LocalAwsEndpoint

    project = Path(args.project)
    config = load_project_config(project) if project.is_dir() else {}
    s3dir = args.s3dir or config.get("s3dir")
    # Kept under the project's build tree, so a second run sees the first one's versions.
    state_path = LayerPathLayout(project).path_local_aws_state if project.is_dir() else None
    with LocalAwsEndpoint(state_path=state_path) as endpoint:
        if s3dir:
            bucket = parse_s3dir(s3dir).bucket
            with aws_errors(f"creating S3 bucket {bucket!r} on the local endpoint"):
                endpoint.ensure_bucket(bucket)
        for region in region_targets(args, config):
            endpoint.ensure_bucket(region.s3dir_lambda.bucket)
        yield endpoint.clients()


def _setup_logging(args: argparse.Namespace) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("layer-builder: %(message)s"))
    root = logging.getLogger("layer_builder")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(
        logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    )


def _print_human(command: str, data: dict[str, Any]) -> None:
    lines = operator_lines(command, data)
    if lines is not None:
        print("\n".join(lines))
        return
    if command in ("run", "publish"):
        state = "published" if data["published"] else "unchanged, not published"
        print(f"{state}: {data['layer_version_arn']}")
        print(f"reason: {data['reason']}")
        for line in region_lines(data):
            print(line)
    elif command == "upload":
        print(data["s3_uri"])
        print(data["console_url"])
    elif command == "package":
        print("\n".join(package_lines(data)))
    else:
        print(data["dir_python"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``layer-builder``; returns the exit code."""
    args = _parser().parse_args(argv)
    root = logging.getLogger("layer_builder")
    # Restored on return, so that main() called from a script or a test leaves logging as
    # it found it.
    saved = (root.handlers[:], root.propagate, root.level)
    _setup_logging(args)
    try:
        if args.local and args.command in _NEEDS_AWS:
            # Bad input fails here, before the local endpoint starts (and saves its state).
            _make_workflow(args, None, resolve_index=False)
        with _aws_for(args) as aws:
            data = _execute(args, aws)
    except LayerBuilderError as exc:
        print(f"layer-builder: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # The file system refused (a file where a folder must be, no permission, no space):
        # one line like every other error; -v shows where it happened.
        logger.debug("file system error", exc_info=True)
        where = f": {exc.filename}" if exc.filename else ""
        print(
            f"layer-builder: error: {exc.strerror or exc}{where}: check that path "
            f"(permissions, free space, a file in the way of a folder)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("layer-builder: interrupted", file=sys.stderr)
        return 130
    finally:
        root.handlers[:], root.propagate = saved[0], saved[1]
        root.setLevel(saved[2])
    if args.json:
        print(json.dumps(data, sort_keys=True))
    else:
        _print_human(args.command, data)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
