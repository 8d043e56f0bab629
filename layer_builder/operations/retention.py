"""Retention: delete old layer versions, keeping the last N and/or the recent ones.

A version is kept when it is among the ``keep_last`` newest, or younger than
``newer_than_days`` (either rule keeps it when both are given), and the latest version is
always kept: functions deployed with it must keep working. A layer name that serves several
targets keeps that many per target (runtime and architecture): ``keep_last=1`` keeps the
newest version of each, not only the newest of all. Without ``yes`` nothing is
deleted; the result lists what would be. Functions already using a deleted version keep
working (Lambda keeps a copy for them); new deployments can no longer reference it. The
manifest backups (``layer/00000N/...``) stay in S3 as the record of what each version held.
Given the layer's S3 folder, ``prune`` also deletes the zips no kept version was published
from and aborts unfinished multipart uploads (see ``storage``).
"""

from __future__ import annotations

import collections
import datetime
import itertools
import logging
from typing import Any

import attrs

from layer_builder.aws.clients import aws_errors
from layer_builder.errors import ConfigurationError
from layer_builder.model.layout import LayerS3Layout
from layer_builder.operations.storage import DEFAULT_GRACE, StorageCleanup, clean_up_storage
from layer_builder.steps.publish.versions import layer_code_sha256, list_versions

logger = logging.getLogger(__name__)


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < (1 if attribute.name == "keep_last" else 0):
        flag = "--keep-last" if attribute.name == "keep_last" else "--newer-than-days"
        least = "1" if attribute.name == "keep_last" else "0"
        raise ConfigurationError(f"{flag} must be at least {least}, not {value}")


@attrs.frozen
class RetentionPolicy:
    """Which versions to keep; at least one rule must be given."""

    keep_last: int | None = attrs.field(default=None, validator=_positive_or_none)
    newer_than_days: float | None = attrs.field(default=None, validator=_positive_or_none)

    def __attrs_post_init__(self) -> None:
        if self.keep_last is None and self.newer_than_days is None:
            raise ConfigurationError("prune needs a rule: --keep-last N and/or --newer-than-days D")


@attrs.frozen
class LayerVersionInfo:
    """One existing layer version."""

    version: int
    arn: str
    created: datetime.datetime
    #: The runtime/architecture pairs it declares (``CompatibleRuntimes`` x
    #: ``CompatibleArchitectures``); empty for a version that declares neither.
    targets: frozenset[tuple[str, str]] = frozenset()


@attrs.frozen
class PruneResult:
    """The versions kept and the ones deleted (or, in a dry run, to delete)."""

    layer_name: str
    kept: tuple[LayerVersionInfo, ...]
    deleted: tuple[LayerVersionInfo, ...]
    dry_run: bool
    #: The zips and unfinished uploads in the layer's S3 folder (None: no folder given).
    storage: StorageCleanup | None = None


def _parse_created(text: str) -> datetime.datetime:
    # Lambda writes 2026-11-27T16:35:04.654+0000.
    for form in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.datetime.strptime(text, form)
        except ValueError:
            continue
    return datetime.datetime.fromisoformat(text)


def list_layer_versions(lambda_: Any, layer_name: str) -> tuple[LayerVersionInfo, ...]:
    """Every existing version of ``layer_name``, newest first."""
    found = [
        LayerVersionInfo(
            version=v.version,
            arn=v.arn,
            created=_parse_created(v.created),
            targets=frozenset(itertools.product(v.runtimes, v.architectures)),
        )
        for v in list_versions(lambda_, layer_name)
    ]
    return tuple(sorted(found, key=lambda v: v.version, reverse=True))


def select_versions(
    versions: tuple[LayerVersionInfo, ...],
    policy: RetentionPolicy,
    now: datetime.datetime,
) -> tuple[tuple[LayerVersionInfo, ...], tuple[LayerVersionInfo, ...]]:
    """``(kept, to delete)`` of ``versions`` (newest first) under ``policy``; the ranks are
    counted per target, so each target keeps its newest ones."""
    kept: list[LayerVersionInfo] = []
    doomed: list[LayerVersionInfo] = []
    seen: collections.Counter[tuple[str, str] | None] = collections.Counter()
    for version in versions:
        # A version serving several targets ranks by the target it is newest for; versions
        # that declare no target rank among themselves.
        groups = version.targets or {None}
        index = min(seen[group] for group in groups)
        seen.update(groups)
        by_count = policy.keep_last is not None and index < policy.keep_last
        by_age = policy.newer_than_days is not None and (
            now - version.created < datetime.timedelta(days=policy.newer_than_days)
        )
        (kept if index == 0 or by_count or by_age else doomed).append(version)
    return tuple(kept), tuple(doomed)


def prune(
    lambda_: Any,
    layer_name: str,
    policy: RetentionPolicy,
    yes: bool = False,
    now: datetime.datetime | None = None,
    s3: Any = None,
    s3_layout: LayerS3Layout | None = None,
    grace: datetime.timedelta = DEFAULT_GRACE,
) -> PruneResult:
    """Delete the versions ``policy`` does not keep, only when ``yes``; else a dry run.

    With ``s3`` and ``s3_layout``, then delete the zips under ``layer/zips/`` that no kept
    version was published from, and abort unfinished multipart uploads under ``layer/``
    (both spared when younger than ``grace``).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    kept, doomed = select_versions(list_layer_versions(lambda_, layer_name), policy, now)
    for version in doomed:
        if not yes:
            logger.info("would delete %s (dry run: pass --yes to delete)", version.arn)
            continue
        with aws_errors(f"deleting {version.arn}"):
            lambda_.delete_layer_version(LayerName=layer_name, VersionNumber=version.version)
        logger.info("deleted %s", version.arn)
    storage = None
    if s3 is not None and s3_layout is not None:
        # Read after the deletions: a version whose deletion failed raised above, so no zip
        # goes while a version published from it remains.
        shas = (layer_code_sha256(lambda_, layer_name, v.version) for v in kept)
        needed = {sha for sha in shas if sha}
        storage = clean_up_storage(s3, s3_layout, needed, yes, now, grace)
    return PruneResult(layer_name, kept, doomed, dry_run=not yes, storage=storage)
