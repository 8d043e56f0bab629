"""What a build changes in the layer, against the version publishing compares with (the
newest one its target can use; of a universal set, the first target's newest that lacks the
build: ``PublishStep.latest()``): ``run`` compares the new zip's contents, ``plan`` the
manifest's pins, each with that version's ``contents.json`` (see
:mod:`layer_builder.model.layer_diff`)."""

from __future__ import annotations

from layer_builder.aws.clients import AwsClients
from layer_builder.installers.pins import Pins
from layer_builder.model.contents import LayerContents
from layer_builder.model.layer_diff import LayerDiff, diff_contents, diff_pins
from layer_builder.model.layout import LayerS3Layout
from layer_builder.steps.publish.records import read_version_contents


def _recorded(
    aws: AwsClients, s3_layout: LayerS3Layout, version: int | None
) -> LayerContents | None:
    return read_version_contents(aws.s3, s3_layout, version) if version is not None else None


def diff_contents_with(
    aws: AwsClients, s3_layout: LayerS3Layout, version: int | None, contents: LayerContents
) -> LayerDiff:
    """What ``contents`` (a build's) change against version ``version`` (None: the first)."""
    return diff_contents(version, _recorded(aws, s3_layout, version), contents)


def diff_pins_with(
    aws: AwsClients, s3_layout: LayerS3Layout, version: int | None, pins: Pins
) -> LayerDiff:
    """What ``pins`` (a manifest's) change against version ``version`` (None: the first)."""
    old = _recorded(aws, s3_layout, version)
    return diff_pins(version, old, pins.versions, pins.complete, pins.why)
