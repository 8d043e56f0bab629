"""Recreate a saved ``LocalState`` through the public AWS API of a (fresh) local endpoint.

Objects are put from their blobs, several at a time; an object whose bytes another object
already brought is a server-side copy. Layer versions are published in version order from an
object holding their zip (inline when none does), and a deleted version is published from an
empty zip and deleted at once: the versions keep their numbers and ARNs, and the next publish
gets the number it would have had.

moto's state belongs to the process: another endpoint of the same process may have left the
saved resources there already. A bucket found is used as it is; a layer found with the saved
versions is left alone, one found with other versions is reported and left alone.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode

from layer_builder.aws.local_capture import (
    EMPTY_ZIP,
    AccountClients,
    Inventory,
    KnownObjects,
    pages,
)
from layer_builder.aws.local_state import (
    BlobStore,
    LocalState,
    StoredLayer,
    StoredObject,
    StoredParameter,
)

logger = logging.getLogger(__name__)

#: Objects put (or copied) at the same time: moto's server takes each in a thread.
PARALLEL_PUTS = 4


def restore_state(
    state: LocalState, blobs: BlobStore, clients: AccountClients, found: Inventory
) -> KnownObjects:
    """Recreate ``state``; returns the objects put, with their ETags (a save needs not read
    them back while they are unchanged)."""
    s3 = clients.get("s3")
    for bucket in state.buckets:
        regional = clients.get("s3", bucket.region)
        if bucket.name not in found.buckets:
            create_bucket(regional, bucket.name, bucket.region)
        if bucket.versioning:
            regional.put_bucket_versioning(
                Bucket=bucket.name, VersioningConfiguration={"Status": bucket.versioning}
            )
    known = _restore_objects(s3, state.objects, blobs)
    region_of = {b.name: b.region for b in state.buckets}
    # Where each zip can be published from: an object in a bucket of the layer's region.
    sources = {(region_of.get(o.bucket), o.sha256): o for o in state.objects}
    for layer in state.layers:
        lambda_ = clients.get("lambda", layer.region)
        if f"{layer.region}/{layer.name}" in found.layers:
            _check_found_layer(lambda_, layer)
        else:
            _restore_layer(lambda_, layer, blobs, sources)
    for parameter in state.parameters:
        _put_parameter(clients.get("ssm", parameter.region), parameter)
    return known


def create_bucket(s3: Any, name: str, region: str) -> None:
    """Create bucket ``name`` in ``region`` with ``s3``, a client of that region: S3 refuses
    a location constraint sent to another region's endpoint (IllegalLocationConstraint)."""
    # us-east-1 is the one region S3 refuses as a LocationConstraint.
    where = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": where} if where else {}))


def _restore_objects(s3: Any, objects: tuple[StoredObject, ...], blobs: BlobStore) -> KnownObjects:
    first: dict[str, StoredObject] = {}
    copies = []
    for obj in objects:
        if obj.sha256 in first:
            copies.append(obj)
        else:
            first[obj.sha256] = obj
    known: KnownObjects = {}

    def put(obj: StoredObject) -> None:
        kwargs = _write_args(obj)
        if obj.checksum == "SHA256":
            kwargs["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(obj.sha256)).decode()
        with blobs.open(obj.sha256) as body:
            response = s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=body, **kwargs)
        known[(obj.bucket, obj.key)] = (str(response["ETag"]), obj.sha256)

    def copy(obj: StoredObject) -> None:
        source = first[obj.sha256]
        response = s3.copy_object(
            Bucket=obj.bucket,
            Key=obj.key,
            CopySource={"Bucket": source.bucket, "Key": source.key},
            MetadataDirective="REPLACE",
            TaggingDirective="REPLACE",
            **_write_args(obj),
        )
        known[(obj.bucket, obj.key)] = (str(response["CopyObjectResult"]["ETag"]), obj.sha256)

    with ThreadPoolExecutor(PARALLEL_PUTS, thread_name_prefix="layer-builder-restore") as pool:
        list(pool.map(put, first.values()))  # list(): the first failure is raised here
        list(pool.map(copy, copies))
    return known


def _write_args(obj: StoredObject) -> dict[str, Any]:
    """What PutObject and CopyObject take to give ``obj`` its metadata, tags and encryption."""
    kwargs: dict[str, Any] = {"Metadata": dict(obj.metadata), **obj.headers, **obj.encryption}
    if obj.content_type:
        kwargs["ContentType"] = obj.content_type
    if obj.tags:  # (a copy made with TaggingDirective=REPLACE and no Tagging has none)
        kwargs["Tagging"] = urlencode(sorted(obj.tags.items()), quote_via=quote)
    if obj.checksum == "SHA256":
        kwargs["ChecksumAlgorithm"] = "SHA256"
    return kwargs


def _restore_layer(
    lambda_: Any,
    layer: StoredLayer,
    blobs: BlobStore,
    sources: Mapping[tuple[str | None, str], StoredObject],
) -> None:
    live = {v.version: v for v in layer.versions}
    for number in range(1, layer.last_version + 1):
        version = live.get(number)
        if version is None:
            kwargs: dict[str, Any] = {"Content": {"ZipFile": EMPTY_ZIP}}
        else:
            source = sources.get((layer.region, version.sha256))
            if source is not None:
                content: dict[str, Any] = {"S3Bucket": source.bucket, "S3Key": source.key}
            else:
                with blobs.open(version.sha256) as f:
                    content = {"ZipFile": f.read()}
            kwargs = {"Content": content, "Description": version.description}
            if version.runtimes:
                kwargs["CompatibleRuntimes"] = list(version.runtimes)
            if version.architectures:
                kwargs["CompatibleArchitectures"] = list(version.architectures)
            if version.license_info:
                kwargs["LicenseInfo"] = version.license_info
        got = int(lambda_.publish_layer_version(LayerName=layer.name, **kwargs)["Version"])
        if got != number:
            lambda_.delete_layer_version(LayerName=layer.name, VersionNumber=got)
            logger.warning(
                "local layer %r (%s) was not restored: moto gave version %d for the saved "
                "version %d (another endpoint of this process had made the layer)",
                layer.name,
                layer.region,
                got,
                number,
            )
            return
        if version is None:
            lambda_.delete_layer_version(LayerName=layer.name, VersionNumber=number)
            continue
        for statement in version.statements:
            lambda_.add_layer_version_permission(
                LayerName=layer.name, VersionNumber=number, **permission_args(statement)
            )


def permission_args(statement: Mapping[str, Any]) -> dict[str, str]:
    """The AddLayerVersionPermission arguments that make a policy statement (as AWS or moto
    spell it in GetLayerVersionPolicy)."""
    principal = statement.get("Principal", "*")
    if isinstance(principal, dict):
        principal = principal.get("AWS", "*")
    principal = str(principal)
    if principal.startswith("arn:") and principal.endswith(":root"):
        principal = principal.split(":")[4]  # arn:aws:iam::<account>:root
    args = {
        "StatementId": str(statement["Sid"]),
        "Action": str(statement.get("Action", "lambda:GetLayerVersion")),
        "Principal": principal,
    }
    condition = statement.get("Condition") or {}
    organization = statement.get("OrganizationId") or condition.get("StringEquals", {}).get(
        "aws:PrincipalOrgID"
    )
    if organization:
        args["OrganizationId"] = str(organization)
    return args


def _check_found_layer(lambda_: Any, layer: StoredLayer) -> None:
    """A layer already in this process's moto: fine when it holds the saved versions."""
    found = {}
    for item in pages(lambda_, "list_layer_versions", "LayerVersions", LayerName=layer.name):
        number = int(item["Version"])
        got = lambda_.get_layer_version(LayerName=layer.name, VersionNumber=number)
        found[number] = base64.b64decode(got["Content"].get("CodeSha256") or "").hex()
    if found != {v.version: v.sha256 for v in layer.versions}:
        logger.warning(
            "local layer %r (%s) was not restored: another endpoint of this process holds "
            "other versions of it (%s)",
            layer.name,
            layer.region,
            ", ".join(map(str, sorted(found))) or "none",
        )


def _put_parameter(ssm: Any, parameter: StoredParameter) -> None:
    kwargs: dict[str, Any] = {
        "Name": parameter.name,
        "Value": parameter.value,
        "Type": parameter.type,
        "Overwrite": True,
    }
    optional = {
        "Description": parameter.description,
        "KeyId": parameter.key_id,
        "DataType": parameter.data_type,
        "Tier": parameter.tier,
        "AllowedPattern": parameter.allowed_pattern,
    }
    kwargs.update({k: v for k, v in optional.items() if v})
    ssm.put_parameter(**kwargs)
