"""Helpers for the publishing tests: hand-made step results, AWS call counting, faults."""

from __future__ import annotations

import collections
import hashlib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.exceptions

from layer_builder import (
    AwsClients,
    BuildResult,
    BuildStep,
    LayerTarget,
    LayerWorkflow,
    Manifest,
    PackageOptions,
    PackageResult,
)
from layer_builder.model.contents import CONTENTS_FILENAME
from layer_builder.model.fingerprint import compute_fingerprint
from layer_builder.model.zip_identity import ZipIdentity
from layer_builder.steps.package.contents import contents_of, write_contents


def make_manifest(directory: Path, content: bytes = b"tinyutil==1.0.0\n") -> Manifest:
    """A requirements.txt manifest written into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "requirements.txt"
    path.write_bytes(content)
    return Manifest.from_file(path)


def make_package(
    directory: Path,
    manifest: Manifest,
    target: LayerTarget | None = None,
    payload: bytes = b"VALUE = 1\n",
    options: PackageOptions | None = None,
) -> PackageResult:
    """A real ``layer.zip`` with one module, described as PackageStep would describe it."""
    directory.mkdir(parents=True, exist_ok=True)
    path_zip = directory / "layer.zip"
    target = target or LayerTarget()
    identity = ZipIdentity(
        fingerprint=compute_fingerprint(
            manifest, target, (options or PackageOptions()).fingerprint_fields()
        ),
        manifest_sha256=manifest.sha256,
        runtime=target.runtime,
        architecture=target.architecture,
        compression="zipfile",
    )
    with zipfile.ZipFile(path_zip, "w") as zf:
        # A fixed timestamp: the same payload gives the same bytes, as PackageStep's zips do.
        zf.writestr(zipfile.ZipInfo("python/handmade/__init__.py", (2020, 1, 1, 0, 0, 0)), payload)
        zf.comment = identity.to_comment()
    result = PackageResult.from_zip(path_zip)
    assert result.sha256 == hashlib.sha256(path_zip.read_bytes()).hexdigest()
    # The package step's record beside the zip: what upload takes the zip's identity from.
    write_contents(path_zip.with_name(CONTENTS_FILENAME), contents_of(result, target))
    return result


class CallLog:
    """Counts the AWS operations the clients make (botocore ``before-call`` events)."""

    def __init__(self, *clients: Any):
        self.counts: collections.Counter[str] = collections.Counter()
        self.params: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for client in clients:
            client.meta.events.register("before-call.*.*", self._record)
            client.meta.events.register("provide-client-params.*.*", self._record_params)

    def _record(self, event_name: str, **_: Any) -> None:
        self.counts[event_name.rsplit(".", 1)[-1]] += 1

    def _record_params(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        self.params[event_name.rsplit(".", 1)[-1]].append(dict(params))

    def __getitem__(self, operation: str) -> int:
        return self.counts[operation]


def count_calls(aws: AwsClients) -> CallLog:
    return CallLog(aws.s3, aws.lambda_)


@contextmanager
def failing(client: Any, operation: str, nth: int = 1, after: bool = False) -> Iterator[list[int]]:
    """Make the ``nth`` call of ``operation`` fail as AWS would (a 500 error).

    ``after=True`` fails it once AWS has done the work (the response is lost on the way
    back), the harder case for a rerun. Yields ``[calls seen]``.
    """
    seen = [0]

    def fail(**_: Any) -> None:
        seen[0] += 1
        if seen[0] == nth:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InternalError", "Message": "injected failure"}}, operation
            )

    stage = "after-call" if after else "before-call"
    event = f"{stage}.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, fail)
    try:
        yield seen
    finally:
        client.meta.events.unregister(event, fail)


class HandmadeBuildStep(BuildStep):
    """Swaps pip for files written directly: what a subclass does to build elsewhere."""

    def run(self, previous: None = None) -> BuildResult:
        dir_python = self.layout.dir_python
        (dir_python / "handmade").mkdir(parents=True, exist_ok=True)
        (dir_python / "handmade" / "__init__.py").write_bytes(self.manifest.content)
        return BuildResult(
            dir_python=dir_python,
            manifest=self.manifest,
            target=self.target,
            distributions=(),
            installer="handmade",
        )


class HandmadeWorkflow(LayerWorkflow):
    """The workflow with the handmade build: the AWS side of the pipeline, in milliseconds."""

    def make_build_step(self) -> BuildStep:
        return HandmadeBuildStep(self.target, self.manifest, self.layout)


def object_keys(aws: AwsClients, bucket: str, prefix: str = "") -> list[str]:
    response = aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in response.get("Contents", []))
