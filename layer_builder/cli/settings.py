"""From parsed arguments and ``[tool.layer_builder]`` to a validated ``LayerWorkflow``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from layer_builder.cli.aws_options import aws_settings
from layer_builder.cli.config import load_project_config, project_folder, setting
from layer_builder.cli.operators import workflow_settings
from layer_builder.cli.packaging import package_options
from layer_builder.cli.parser import NEEDS_AWS
from layer_builder.cli.progress import TerminalProgress
from layer_builder.cli.remembered_target import choose_target, local_target, staged_target
from layer_builder.cli.targets import Given, check_one_target, target_choice
from layer_builder.errors import ConfigurationError, LayerBuilderError
from layer_builder.installers import IndexOptions, Installer, InstallOptions
from layer_builder.model.layout import LayerPathLayout
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget
from layer_builder.steps.build import BuildOptions, make_installer
from layer_builder.steps.publish.options import PublishOptions
from layer_builder.workflow import LayerWorkflow

if TYPE_CHECKING:
    from layer_builder.aws.clients import AwsClients


def make_build_installer(
    args: argparse.Namespace,
    config: dict[str, Any],
    project: Path,
    aws: AwsClients | None,
    resolve_index: bool = True,
) -> Installer:
    """The build's installer, with the index, extras, groups and container asked for."""
    tool = Manifest.from_project(project, setting(args, config, "tool", "tool")).tool
    index_url, codeartifact = primary_index(args, config, project)
    index = IndexOptions(
        index_url=index_url,
        extra_index_urls=setting(args, config, "extra_index_urls", "extra_index_urls") or (),
    )
    if codeartifact and args.command in ("build", "run") and resolve_index:
        from layer_builder.aws.codeartifact import CodeArtifactRepository, codeartifact_client

        repository = CodeArtifactRepository.parse(codeartifact)
        session = aws.session if aws is not None else aws_settings(args, config).session()
        client = codeartifact_client(session)
        index = attrs.evolve(index, index_url=repository.index_url(client))
    options = InstallOptions(
        extras=setting(args, config, "extras", "extras") or (),
        groups=setting(args, config, "groups", "groups") or (),
        allow_source=setting(args, config, "allow_source", "allow_source") or (),
    )
    container = setting(args, config, "container", "container")
    installer = setting(args, config, "installer", "installer")
    return make_installer(
        tool, index=index, options=options, container=container, installer=installer
    )


def primary_index(
    args: argparse.Namespace, config: dict[str, Any], project: Path
) -> tuple[str | None, str | None]:
    """``--index-url`` and ``--codeartifact`` (one of them at most), else the keys of the
    same names (one at most): both name the index to install from, and a flag of either
    wins over the keys."""
    url, repository = getattr(args, "index_url", None), getattr(args, "codeartifact", None)
    if url and repository:
        raise ConfigurationError(
            "--codeartifact and --index-url both name the package index: give one of them "
            "(--extra-index-url adds an index to either)"
        )
    if url or repository:
        return url, repository
    url, repository = config.get("index_url"), config.get("codeartifact")
    if url and repository:
        raise ConfigurationError(
            f"[tool.layer_builder] of {project / 'pyproject.toml'} has both codeartifact and "
            f"index_url, which both name the package index: keep one of them "
            f"(extra_index_urls adds an index to either)"
        )
    return url, repository


def make_workflow(
    args: argparse.Namespace,
    aws: AwsClients | None,
    resolve_index: bool = True,
    *,
    target: LayerTarget | None = None,
    installer: Installer | None = None,
    **overrides: Any,
) -> LayerWorkflow:
    """Everything the user gave, validated before any work starts (``resolve_index=False``:
    without asking CodeArtifact for the index, to validate before clients exist).

    ``target`` (default: the one target asked for, completed from what an earlier command
    made), ``installer`` (default: made from the flags) and ``overrides`` (``LayerWorkflow``
    keywords) serve ``MatrixRun``'s workflows, one per target."""
    project = project_folder(args)
    config = load_project_config(project)
    layout = LayerPathLayout(project)
    choice = target_choice(args, config, project)
    check_one_target(args.command, choice.targets())
    given = choice.given

    def tree_identity() -> tuple[Manifest, Installer]:
        manifest = Manifest.from_project(project, setting(args, config, "tool", "tool"))
        return manifest, make_build_installer(args, config, project, None, resolve_index=False)

    if target is None:
        # publish asks the staged upload first, once the workflow can reach it (below).
        command = args.command
        local = None if command == "publish" else local_target(command, layout, tree_identity)
        target = choose_target(given, local)
    excludes = setting(args, config, "exclude", "exclude")
    options = package_options(args, config, excludes)
    layer_name = setting(args, config, "layer_name", "layer_name")
    s3dir = setting(args, config, "s3dir", "s3dir")
    if args.command in NEEDS_AWS:
        if not layer_name and args.command != "upload":
            raise ConfigurationError(
                "no layer name: pass --layer-name or set layer_name in [tool.layer_builder]"
            )
        if not s3dir and args.command != "prune":
            raise ConfigurationError(
                "no S3 folder: pass --s3dir s3://bucket/prefix/ or set s3dir in "
                "[tool.layer_builder]"
            )
    settings: dict[str, Any] = dict(
        project_dir=project,
        layer_name=layer_name or "unnamed",
        s3dir_lambda=s3dir or "s3://unset/",
        build_options=BuildOptions(
            tool=setting(args, config, "tool", "tool"),
            installer=installer or make_build_installer(args, config, project, aws, resolve_index),
            use_cache=not getattr(args, "rebuild", False),
        ),
        package_options=options,
        publish_options=PublishOptions(
            description=setting(args, config, "description", "description") or "",
            license_info=setting(args, config, "license_info", "license_info"),
            storage_mode=setting(args, config, "storage_mode", "storage_mode"),
            force=getattr(args, "force", False),
            universal=not getattr(args, "no_universal", False) and config.get("universal", True),
        ),
        # Progress only where someone watches: a terminal, not a CI log or a pipe.
        upload_progress=TerminalProgress(sys.stderr) if shows_progress(args) else None,
        expected_bucket_owner=setting(
            args, config, "expected_bucket_owner", "expected_bucket_owner"
        ),
        aws_settings=aws_settings(args, config),
        **workflow_settings(args, config),
    )
    workflow = LayerWorkflow(target=target, aws=aws, **{**settings, **overrides})
    _ = workflow.manifest  # a missing manifest fails here, before anything runs
    if args.command == "publish" and len(given) < 2 and resolve_index:
        workflow = _for_publish(workflow, given, settings, tree_identity)
    return workflow


def _for_publish(
    workflow: LayerWorkflow,
    given: Given,
    settings: dict[str, Any],
    tree_identity: Callable[[], tuple[Manifest, Installer]],
) -> LayerWorkflow:
    """``publish`` publishes the staged upload: the target its labels name, else (an upload
    of an older layer_builder) the local zip's or tree's."""
    try:
        remembered = staged_target(workflow.aws.s3, workflow.s3_layout)
    except LayerBuilderError:
        remembered = None  # no region, no credentials...: the bucket check says so next
    if remembered is None:
        remembered = local_target("publish", workflow.layout, tree_identity)
    target = choose_target(given, remembered)
    if target == workflow.target:
        return workflow
    return LayerWorkflow(target=target, aws=workflow.aws, **settings)


def shows_progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress: stderr is a terminal and ``--quiet`` was not given."""
    return sys.stderr.isatty() and not args.quiet
