"""The results an earlier command left (the built tree, the zip, the uploaded object),
rebuilt so that ``package``, ``upload`` and ``publish`` can run as commands of their own.

Each is checked against this command's manifest and options: a tree or zip made for another
target must not be stamped, uploaded and published as this one's layer.
"""

from __future__ import annotations

import json

from layer_builder.aws.clients import head_object_or_none
from layer_builder.errors import AwsError, ProjectError
from layer_builder.installers.wheel_check import incompatible_wheels
from layer_builder.model.distributions import find_distributions
from layer_builder.steps.build import BuildResult, build_fingerprint
from layer_builder.steps.package.step import PackageResult
from layer_builder.steps.upload import UploadResult, zip_of
from layer_builder.workflow import LayerWorkflow


def check_tree_matches(workflow: LayerWorkflow) -> None:
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


def existing_build(workflow: LayerWorkflow) -> BuildResult:
    dir_python = workflow.layout.dir_python
    if not dir_python.is_dir():
        raise ProjectError(f"{dir_python} does not exist: run `layer-builder build` first")
    check_tree_matches(workflow)
    return BuildResult(
        dir_python=dir_python,
        manifest=workflow.manifest,
        target=workflow.target,
        distributions=find_distributions(dir_python),
        installer="(existing tree)",
        install_options=workflow.make_build_step().installer.options,
    )


def existing_package(workflow: LayerWorkflow) -> PackageResult:
    path_zip = workflow.layout.path_layer_zip
    if not path_zip.is_file():
        raise ProjectError(f"{path_zip} does not exist: run `layer-builder package` first")
    check_tree_matches(workflow)
    return PackageResult.from_zip(path_zip, workflow.fingerprint)


def existing_upload(workflow: LayerWorkflow) -> UploadResult:
    """The upload ``layer.zip`` stages, checked against this command's manifest and options;
    it names the content-addressed zip to publish from."""
    s3path = workflow.s3_layout.s3path_layer_zip
    head = head_object_or_none(workflow.aws.s3, s3path)
    if head is None:
        raise AwsError(
            f"nothing uploaded at {s3path.uri}: run `layer-builder upload` first "
            f"(or `layer-builder run`)"
        )
    upload = UploadResult.from_head(s3path, head)
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
    return zip_of(workflow.aws.s3, workflow.s3_layout, upload)
