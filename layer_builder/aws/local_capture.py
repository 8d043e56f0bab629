"""Read the local endpoint's account through the public AWS API, into ``local_state`` records.

Only the API is used, never moto's data structures, so that a moto upgrade cannot silently
change what is saved. Lambda does not give a layer version's zip back (moto answers
``Location: s3://``), so a version is saved with the blob of the S3 object it was published
from, found by its ``CodeSha256``: ``layer_builder`` publishes from the content-addressed
``layer/zips/<sha256>.zip``, which is saved with it.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import boto3
import botocore.config
import botocore.exceptions

from layer_builder.aws.clients import error_code
from layer_builder.aws.local_state import (
    BlobStore,
    StoredBucket,
    StoredLayer,
    StoredLayerVersion,
    StoredObject,
    StoredParameter,
)

logger = logging.getLogger(__name__)

#: An empty zip (its end-of-central-directory record alone): the content of a version whose
#: zip is nowhere to be read, and of the placeholders that recreate deleted versions.
EMPTY_ZIP = b"PK\x05\x06" + bytes(18)
_CHECKSUMS = ("SHA256", "SHA1", "CRC32", "CRC32C", "CRC64NVME")
_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")
_ENCRYPTION = ("ServerSideEncryption", "SSEKMSKeyId")
_CHUNK = 1024 * 1024
#: Objects read at the same time when saving.
PARALLEL_READS = 4

#: ``(bucket, key)`` -> ``(etag, sha256)`` of the objects known to hold a blob.
KnownObjects = dict[tuple[str, str], tuple[str, str]]


class AccountClients:
    """boto3 clients of the endpoint, one per service and region, made once (from one
    session: making a client is the slow part)."""

    def __init__(self, session: boto3.session.Session, endpoint_url: str, home: str):
        self.session: Any = session  # boto3-stubs types client() per service name
        self.endpoint_url = endpoint_url
        self.home = home
        self._clients: dict[tuple[str, str], Any] = {}
        # One attempt more than none: the endpoint is local, and a failure is not a blip.
        self._config = botocore.config.Config(retries={"max_attempts": 2, "mode": "standard"})

    def get(self, service: str, region: str | None = None) -> Any:
        """The client of ``service`` in ``region`` (by default the endpoint's)."""
        where = (service, region or self.home)
        if where not in self._clients:
            kwargs: dict[str, Any] = {
                "region_name": where[1],
                "endpoint_url": self.endpoint_url,
                "config": self._config,
            }
            self._clients[where] = self.session.client(service, **kwargs)
        return self._clients[where]


@attrs.frozen
class Inventory:
    """What the account held before a restore (another endpoint of this process made it:
    moto's state is per process)."""

    buckets: frozenset[str] = frozenset()
    #: ``"region/name"`` of the layers, in the regions looked at.
    layers: frozenset[str] = frozenset()


def take_inventory(clients: AccountClients, regions: set[str]) -> Inventory:
    """The names of the buckets, and of the layers in ``regions``."""
    buckets = frozenset(b["Name"] for b in clients.get("s3").list_buckets().get("Buckets", []))
    layers = frozenset(
        f"{region}/{layer['LayerName']}"
        for region in sorted(regions)
        for layer in pages(clients.get("lambda", region), "list_layers", "Layers")
    )
    return Inventory(buckets, layers)


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """The items under ``key`` of every page of ``operation``."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def capture_s3(
    clients: AccountClients, blobs: BlobStore, skip: set[str], known: KnownObjects
) -> tuple[list[StoredBucket], list[StoredObject]]:
    """Every bucket not in ``skip`` and the current version of its objects; bodies go to
    ``blobs`` unless a blob already holds them."""
    s3 = clients.get("s3")
    buckets, heads = [], []
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        if name in skip:
            continue
        region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        versioning = s3.get_bucket_versioning(Bucket=name).get("Status")
        buckets.append(StoredBucket(name, region, versioning))
        for item in pages(s3, "list_objects_v2", "Contents", Bucket=name):
            key = item["Key"]
            heads.append((name, key, s3.head_object(Bucket=name, Key=key, ChecksumMode="ENABLED")))
    # The objects S3 names by their SHA-256 last: another object may bring their bytes
    # (layer.zip is a copy of a multipart upload, whose checksum is of its parts).
    named = [found for found in heads if _whole_sha256(found[2]) is not None]
    unnamed = [found for found in heads if _whole_sha256(found[2]) is None]

    def capture(found: tuple[str, str, Any]) -> StoredObject:
        return capture_object(s3, *found, blobs, known)

    with ThreadPoolExecutor(PARALLEL_READS, thread_name_prefix="layer-builder-save") as pool:
        objects = list(pool.map(capture, unnamed)) + list(pool.map(capture, named))
    return buckets, objects


def capture_object(
    s3: Any, bucket: str, key: str, head: Mapping[str, Any], blobs: BlobStore, known: KnownObjects
) -> StoredObject:
    """One object: HeadObject's facts (``head``), its tags, and the blob of its body."""
    etag, size = str(head["ETag"]), int(head["ContentLength"])
    tags = {}
    if head.get("TagCount"):
        tag_set = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
        tags = {t["Key"]: t["Value"] for t in tag_set}
    checksum = next((c for c in _CHECKSUMS if head.get(f"Checksum{c}")), None)
    sha256 = _known_sha256(head, known.get((bucket, key)), blobs)
    if sha256 is None:
        response = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)
        body = response["Body"]
        with body:
            sha256, stored = blobs.add(iter(lambda: body.read(_CHUNK), b""))
        if stored != size:
            raise OSError(f"s3://{bucket}/{key} gave {stored} bytes of {size}")
        known[(bucket, key)] = (etag, sha256)
    return StoredObject(
        bucket=bucket,
        key=key,
        sha256=sha256,
        size=size,
        content_type=head.get("ContentType"),
        metadata=dict(head.get("Metadata", {})),
        tags=tags,
        checksum=checksum,
        encryption={k: str(head[k]) for k in _ENCRYPTION if head.get(k)},
        headers={k: str(head[k]) for k in _HEADERS if head.get(k)},
    )


def _whole_sha256(head: Mapping[str, Any]) -> str | None:
    """The SHA-256 (hex) S3 keeps of an object's whole body, if any: a multipart object's
    (ETag ``<md5>-<parts>``) is of its parts."""
    checksum = str(head.get("ChecksumSHA256", ""))
    whole = head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
    if checksum and whole and "-" not in str(head["ETag"]) + checksum:
        return base64.b64decode(checksum).hex()
    return None


def _known_sha256(
    head: Mapping[str, Any], known: tuple[str, str] | None, blobs: BlobStore
) -> str | None:
    """The sha256 of an object's body when a blob is known to hold it, without reading it:
    the object is as a restore (or an earlier read) left it, or S3's whole-object SHA-256
    names a blob."""
    size = int(head["ContentLength"])
    if known is not None and known[0] == head["ETag"] and blobs.has(known[1], size):
        return known[1]
    candidate = _whole_sha256(head)
    return candidate if candidate is not None and blobs.has(candidate, size) else None


def capture_layers(
    clients: AccountClients,
    region: str,
    blobs: BlobStore,
    skip: set[str],
    reached: Mapping[str, int],
) -> list[StoredLayer]:
    """The layers of ``region`` not in ``skip`` (``"region/name"``), each version with the
    blob of its zip; ``reached`` (by ``"region/name"``: the saved last version, or a deleted
    one) keeps the number a layer whose last versions were deleted counts on from."""
    lambda_ = clients.get("lambda", region)
    layers = []
    listed = {layer["LayerName"] for layer in pages(lambda_, "list_layers", "Layers")}
    # A layer whose versions are all deleted is no longer listed, but its next version
    # number still counts on from its last one.
    gone = {n.split("/", 1)[1] for n in reached if n.startswith(f"{region}/")} - listed
    for name in sorted(listed | gone):
        if f"{region}/{name}" in skip:
            continue
        numbers = sorted(
            int(v["Version"])
            for v in pages(lambda_, "list_layer_versions", "LayerVersions", LayerName=name)
        )
        versions = [_capture_version(lambda_, region, name, n, blobs) for n in numbers]
        last = max([*numbers, reached.get(f"{region}/{name}", 0)])
        if last:
            layers.append(StoredLayer(region, name, last, tuple(versions)))
    return layers


def _capture_version(
    lambda_: Any, region: str, name: str, number: int, blobs: BlobStore
) -> StoredLayerVersion:
    version = lambda_.get_layer_version(LayerName=name, VersionNumber=number)
    content = version.get("Content", {})
    encoded = content.get("CodeSha256") or ""
    sha256 = base64.b64decode(encoded).hex() if encoded else ""
    size = int(content.get("CodeSize", 0))
    if not blobs.has(sha256, size):
        logger.warning(
            "version %d of local layer %r (%s) was published from a zip no S3 object holds "
            "any more (or given inline): the local state keeps it with an empty zip, so its "
            "CodeSha256 differs after the next start",
            number,
            name,
            region,
        )
        sha256, size = blobs.add([EMPTY_ZIP])
    return StoredLayerVersion(
        version=number,
        sha256=sha256,
        size=size,
        description=version.get("Description", ""),
        runtimes=tuple(version.get("CompatibleRuntimes", ())),
        architectures=tuple(version.get("CompatibleArchitectures", ())),
        license_info=version.get("LicenseInfo", "") or "",
        statements=_statements(lambda_, name, number),
    )


def _statements(lambda_: Any, name: str, number: int) -> tuple[dict[str, Any], ...]:
    try:
        response = lambda_.get_layer_version_policy(LayerName=name, VersionNumber=number)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return ()
        raise
    return tuple(json.loads(response.get("Policy") or "{}").get("Statement", []))


def capture_parameters(clients: AccountClients, region: str) -> list[StoredParameter]:
    """The SSM parameters of ``region`` (AWS's own public ``/aws/`` ones left out)."""
    ssm = clients.get("ssm", region)
    described = {
        p["Name"]: p
        for p in pages(ssm, "describe_parameters", "Parameters")
        if not p["Name"].startswith("/aws/")
    }
    names = sorted(described)
    parameters = []
    for start in range(0, len(names), 10):  # GetParameters takes 10 names at most
        batch = names[start : start + 10]
        response = ssm.get_parameters(Names=batch, WithDecryption=True)
        for found in response.get("Parameters", []):
            about = described[found["Name"]]
            parameters.append(
                StoredParameter(
                    region=region,
                    name=found["Name"],
                    type=found["Type"],
                    value=found["Value"],
                    description=about.get("Description"),
                    key_id=about.get("KeyId") if found["Type"] == "SecureString" else None,
                    data_type=found.get("DataType"),
                    tier=about.get("Tier"),
                    allowed_pattern=about.get("AllowedPattern"),
                )
            )
    return parameters
