"""The ``layer-builder`` command: a thin shell over ``LayerWorkflow`` and the steps."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from layer_builder.cli.parser import NEEDS_AWS, build_parser
from layer_builder.cli.signals import TerminatedBySignal, stop_signals_raise
from layer_builder.errors import LayerBuilderError

# Only what parsing needs is imported up front, so that `--help`, `--version` and a usage
# error start at once; each command imports the library where it runs it, and boto3 only
# where it talks to AWS (never in `build` or `package`: tests/test_startup.py).
if TYPE_CHECKING:
    from layer_builder.aws.clients import AwsClients
    from layer_builder.cli.several import SeveralReport
    from layer_builder.model.target import TargetSet
    from layer_builder.workflow import LayerWorkflow, WorkflowResult

logger = logging.getLogger("layer_builder.cli")


def execute(
    args: argparse.Namespace, aws: AwsClients | None
) -> dict[str, Any] | SeveralReport | str:
    """Run one parsed command with ``aws`` (None: boto3's default chain); its ``--json`` data."""
    if args.command == "matrix":  # writes the CI jobs: none of the rest is needed
        from layer_builder.cli.fanout import execute_matrix

        return execute_matrix(args)
    from layer_builder.cli.config import load_project_config
    from layer_builder.cli.infra_outputs import check_outputs, write_outputs
    from layer_builder.cli.operators import OPERATOR_COMMANDS, execute_operator_command
    from layer_builder.cli.output import build_json, package_result_json, publish_json, upload_json
    from layer_builder.cli.reports import execute_sbom, write_report
    from layer_builder.cli.settings import make_workflow

    targets = command_targets(args)
    if len(targets) > 1:
        from layer_builder.cli.several import execute_several

        return execute_several(args, aws, targets)
    workflow = make_workflow(args, aws)
    command = args.command
    if command in OPERATOR_COMMANDS:
        return execute_operator_command(args, workflow)
    if command in NEEDS_AWS and command != "run":
        workflow.check()  # run() checks first itself
    if command == "build":
        return build_json(workflow.build())
    if command == "package":
        # Held while the tree is checked, too: not a tree another run is swapping.
        with _folder_lock(workflow, "package"):
            package = workflow.package(workflow.last_build())
            return {**package_result_json(package), **write_report(args, package)}
    if command == "sbom":
        return execute_sbom(args, workflow)
    if command == "upload":
        with _folder_lock(workflow, "upload"):
            return upload_json(workflow.upload(workflow.last_package()))
    config = load_project_config(workflow.project_dir)
    check_outputs(args, config, workflow)
    if command == "publish":
        upload = workflow.last_upload()
        data = {**upload_json(upload), **publish_json(workflow.publish(upload))}
    else:
        data = run_json(workflow, workflow.run())
    # Also on the instant no-op: the version that holds the build is the one to hand on.
    return {**data, **write_outputs(args, config, workflow, data)}


def run_json(workflow: LayerWorkflow, result: WorkflowResult) -> dict[str, Any]:
    """The ``--json`` document of ``run``."""
    from layer_builder.cli.operators import run_extras_json
    from layer_builder.cli.output import package_result_json, publish_json, upload_json

    if result.package is None or result.upload is None:
        # The instant no-op: nothing was built or uploaded; the version already holds it.
        zip_sha256 = result.zip_sha256
        return {
            "skipped": True,
            # Where the version's zip was published from (content-addressed).
            "s3_uri": (
                workflow.s3_layout.s3path_zip(zip_sha256).uri
                if zip_sha256
                else workflow.s3_layout.s3path_layer_zip.uri
            ),
            "zip_sha256": result.zip_sha256,
            "fingerprint": result.fingerprint,
            **publish_json(result.publish),
            **run_extras_json(result),
        }
    return {
        "skipped": False,
        **package_result_json(result.package),
        **upload_json(result.upload),
        **publish_json(result.publish),
        **run_extras_json(result),
    }


def _folder_lock(
    workflow: LayerWorkflow, command: str
) -> contextlib.AbstractContextManager[object]:
    """The folder lock, when there is a build folder: without one no run holds it, and a
    command about to refuse ("run build first") must not make one."""
    if workflow.layout.dir_build.is_dir():
        return workflow.folder_lock(command)
    return contextlib.nullcontext()


@contextlib.contextmanager
def aws_for(args: argparse.Namespace) -> Iterator[AwsClients | None]:
    """Clients for the embedded endpoint with ``--local``; None means boto3's default chain."""
    if not (getattr(args, "local", False) and args.command in NEEDS_AWS):
        yield None
        return
    from layer_builder.aws.clients import aws_errors
    from layer_builder.aws.local import LOCAL_REGION, LocalAwsEndpoint
    from layer_builder.cli.aws_options import home_region
    from layer_builder.cli.config import load_project_config
    from layer_builder.cli.operators import region_targets
    from layer_builder.model.layout import LayerPathLayout, parse_s3dir

    project = Path(args.project)
    config = load_project_config(project) if project.is_dir() else {}
    s3dir = getattr(args, "s3dir", None) or config.get("s3dir")
    # Kept under the project's build tree, so a second run sees the first one's versions.
    state_path = LayerPathLayout(project).path_local_aws_state if project.is_dir() else None
    home = home_region(args) or LOCAL_REGION
    with LocalAwsEndpoint(state_path=state_path, region=home) as endpoint:
        if s3dir:
            bucket = parse_s3dir(s3dir).bucket
            with aws_errors(f"creating S3 bucket {bucket!r} on the local endpoint"):
                endpoint.ensure_bucket(bucket)
        for region in region_targets(args, config):
            endpoint.ensure_bucket(region.s3dir_lambda.bucket, region.region)
        yield endpoint.clients()


def command_targets(args: argparse.Namespace) -> TargetSet:
    """The targets the command asked for (checked: one for the commands that take one)."""
    from layer_builder.cli.config import load_project_config, project_folder
    from layer_builder.cli.targets import check_one_target, resolve_targets

    project = project_folder(args)
    targets = resolve_targets(args, load_project_config(project), project)
    check_one_target(args.command, targets)
    return targets


def dispatch(args: argparse.Namespace) -> dict[str, Any] | SeveralReport | str:
    """Run the parsed command; its result as the ``--json`` object (several targets: a
    report of one object per target)."""
    from layer_builder.cli.settings import make_workflow

    if getattr(args, "local", False) and args.command in NEEDS_AWS:
        # Bad input fails here, before the local endpoint starts (and saves its state).
        targets = command_targets(args)
        make_workflow(
            args, None, resolve_index=False, target=targets.first if len(targets) > 1 else None
        )
    with aws_for(args) as aws:
        return execute(args, aws)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``layer-builder``; returns the exit code."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # matrix passes them on
    from layer_builder.cli.output import file_error_text, print_human, setup_logging
    from layer_builder.cli.reports import print_sbom

    root = logging.getLogger("layer_builder")
    # Restored on return, so that main() called from a script or a test leaves logging as
    # it found it.
    saved = (root.handlers[:], root.propagate, root.level)
    setup_logging(args)
    try:
        with stop_signals_raise():
            data = dispatch(args)
    except LayerBuilderError as exc:
        print(f"layer-builder: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # The file system refused (a file where a folder must be, no permission, no space):
        # one line like every other error; -v shows where it happened.
        logger.debug("file system error", exc_info=True)
        print(f"layer-builder: error: {file_error_text(exc)}", file=sys.stderr)
        return 1
    except TerminatedBySignal as exc:
        name = signal.Signals(exc.signum).name
        print(f"layer-builder: stopped by {name}; cleaned up", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("layer-builder: interrupted", file=sys.stderr)
        return 130
    finally:
        root.handlers[:], root.propagate = saved[0], saved[1]
        root.setLevel(saved[2])
    if isinstance(data, str):  # matrix
        print(data)
        return 0
    if not isinstance(data, dict):  # several targets: a SeveralReport
        return data.show(args)
    if args.command == "sbom":
        print_sbom(args, data)
    elif getattr(args, "json_strings", False):
        from layer_builder.operations.outputs import flat_strings

        print(json.dumps(flat_strings(data), sort_keys=True))
    elif args.json:
        print(json.dumps(data, sort_keys=True))
    else:
        print_human(args.command, data)
    return 0


def console_main() -> NoReturn:
    """The ``layer-builder`` script: ``main()``, then the exit.

    A reader that goes away early (``layer-builder ... | head -1``) ends the command as it
    ends ``cat`` or ``seq``: no traceback, and the exit code of SIGPIPE (141); the work was
    done by then, since nothing is printed before it is.

    Everything the library made is frozen out of the garbage collector first, so that the
    interpreter's last collections do not walk it (25 ms of every command here, a tenth of a
    small ``package``); every file is closed by then, and ``atexit`` handlers still run. Only
    for a process of its own: ``main()`` called from a script changes nothing."""
    try:
        code = main()
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
    except BrokenPipeError:
        code = _reader_gone()
    gc.freeze()
    sys.exit(code)


def _reader_gone() -> int:
    """Send what stdout and stderr still hold to /dev/null (the interpreter flushes them on
    exit, which would fail again), and return the shell's code for SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)
    return 128 + getattr(signal, "SIGPIPE", 13)
