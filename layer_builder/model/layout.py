"""Where things live: the local build tree and the S3 keys (the published contract)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from layer_builder.errors import ConfigurationError
from layer_builder.model.target import LayerTarget

if TYPE_CHECKING:
    # s3pathlib imports boto3: loaded only once an S3 folder is parsed, so that
    # ``LayerPathLayout`` users (``build``, ``package``) never pay for it.
    from layer_builder.model.s3path import S3Path


def _resolved(path: Path | str) -> Path:
    return Path(path).resolve()


_FOLDER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def _check_folder(_: object, __: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and not _FOLDER_NAME.fullmatch(value):
        raise ConfigurationError(
            f"invalid build folder name {value!r}: use letters, digits, '.', '-' and '_' "
            f"(e.g. python3.12-arm64)"
        )


@attrs.frozen
class LayerPathLayout:
    """The local build tree of a project: ``<project>/build/lambda/layer/``, or
    ``<project>/build/lambda/<folder>/layer/`` given ``folder`` (one per target when a
    command builds several: ``python3.12-arm64``; ``universal`` for a universal layer's zip).
    """

    project_dir: Path = attrs.field(converter=_resolved)
    folder: str | None = attrs.field(default=None, validator=_check_folder)

    @property
    def dir_lambda(self) -> Path:
        """``<project>/build/lambda/``: every target's folder and the local endpoint's state."""
        return self.project_dir / "build" / "lambda"

    @property
    def dir_build(self) -> Path:
        """The folder of the tree, the zip and the folder lock."""
        if self.folder is None:
            return self.dir_lambda / "layer"
        return self.dir_lambda / self.folder / "layer"

    @property
    def dir_artifacts(self) -> Path:
        """``build/lambda/layer/artifacts/``: the install target's parent."""
        return self.dir_build / "artifacts"

    @property
    def dir_python(self) -> Path:
        """What becomes ``python/`` at the root of the zip."""
        return self.dir_artifacts / "python"

    @property
    def path_layer_zip(self) -> Path:
        """``build/lambda/layer/layer.zip``."""
        return self.dir_build / "layer.zip"

    @property
    def path_sbom(self) -> Path:
        """The CycloneDX SBOM of the distributions in ``layer.zip``, written by ``package``."""
        return self.dir_build / "sbom.cdx.json"

    @property
    def path_lock(self) -> Path:
        """The folder lock that ``build``, ``package`` and ``run`` hold while they change the
        tree or the zip (``layer_builder.steps.folder_lock``); beside the zip, where
        ``PackageStep`` looks for it."""
        return self.dir_build / ".lock"

    @property
    def path_contents(self) -> Path:
        """What ``layer.zip`` holds per distribution (``contents.json``), written by
        ``package``."""
        return self.dir_build / "contents.json"

    @property
    def path_local_aws_state(self) -> Path:
        """Where ``--local`` keeps the embedded endpoint's state between runs."""
        return self.dir_lambda / "local-aws" / "state.jsonl"

    @property
    def path_build_record(self) -> Path:
        """The fingerprint of the tree in ``dir_python``, written when a build succeeds."""
        return self.dir_artifacts / "build-record.json"


#: A zip's sha256 as it appears in its content-addressed key.
SHA256_HEX = re.compile(r"[0-9a-f]{64}")

# What botocore accepts as a bucket name, at least 3 characters as S3 has always required
# (S3 is stricter for buckets made since 2018: 3 to 63 lowercase letters, digits, '.' and
# '-'); botocore would refuse anything else with a parameter validation traceback.
_BUCKET_CHARACTER = re.compile(r"[a-zA-Z0-9.\-_]")
_BUCKET_LENGTHS = range(3, 256)


def bucket_name_problem(bucket: str) -> str | None:
    """What makes ``bucket`` no bucket name (its length, or characters it may not hold),
    or None."""
    if len(bucket) not in _BUCKET_LENGTHS:
        return f"a bucket name has 3 to 63 characters, not {len(bucket)}"
    bad = sorted({c for c in bucket if not _BUCKET_CHARACTER.fullmatch(c)}, key=bucket.index)
    if bad:
        listed = " or ".join(repr(c) for c in bad)
        return f"a bucket name has only lowercase letters, digits, '.' and '-', not {listed}"
    return None


def check_s3dir(text: str) -> str:
    """``text`` if it can name an S3 folder (``s3://bucket/prefix``), checked without
    s3pathlib; a clear error otherwise."""
    bucket = text[len("s3://") :].split("/", 1)[0] if text.startswith("s3://") else ""
    if not bucket:
        raise ConfigurationError(
            f"invalid S3 folder {text!r}: expected s3://bucket/prefix/ "
            f"(e.g. --s3dir s3://my-bucket/projects/my_app/lambda/)"
        )
    problem = bucket_name_problem(bucket)
    if problem is not None:
        raise ConfigurationError(
            f"invalid S3 bucket name {bucket!r} in {text!r}: {problem} "
            f"(e.g. s3://my-bucket/app/lambda/)"
        )
    return text


def parse_s3dir(value: S3Path | str) -> S3Path:
    """``s3://bucket/prefix`` -> a folder ``S3Path``, with a clear error for a bad URI."""
    from layer_builder.model.s3path import S3Path

    if isinstance(value, S3Path):
        path = value
    else:
        text = check_s3dir(str(value))
        try:
            path = S3Path.from_s3_uri(text if text.endswith("/") else text + "/")
        except ValueError as exc:  # s3pathlib 2.3 (Python 3.10) checks S3's naming rules
            raise ConfigurationError(
                f"invalid S3 folder {text!r}: {exc} (e.g. s3://my-bucket/app/lambda/)"
            ) from None
    if not path.is_dir():
        path = path.to_dir()
    return path


@attrs.frozen
class LayerS3Layout:
    """The S3 keys under the user's Lambda folder.

    ``${s3dir_lambda}/layer/zips/<sha256>.zip`` holds each distinct zip, never overwritten
    with other bytes: versions are published from there. ``layer/layer.zip`` is a copy of
    the latest upload with its labels (manifest, fingerprint), which ``layer-builder
    publish`` reads; ``layer/000001/<manifest>`` backs up the manifest each version was
    published from, ``layer/last-<manifest>`` the manifest of the latest version, and
    ``layer/targets/<runtime>-<arch>/last-<manifest>`` that of the latest version each
    target can use (one layer name may serve several targets).
    """

    s3dir_lambda: S3Path = attrs.field(converter=parse_s3dir)

    @property
    def s3dir_layer(self) -> S3Path:
        """``<s3dir>/layer/``: everything this layer keeps in S3."""
        return self.s3dir_lambda.joinpath("layer").to_dir()

    @property
    def s3path_layer_zip(self) -> S3Path:
        """``layer/layer.zip``: the staging copy of the latest upload, with its labels."""
        return self.s3dir_layer.joinpath("layer.zip")

    @property
    def s3dir_zips(self) -> S3Path:
        """``layer/zips/``: one object per distinct zip, named by its sha256."""
        return self.s3dir_layer.joinpath("zips").to_dir()

    def s3path_zip(self, zip_sha256: str) -> S3Path:
        """``layer/zips/<sha256>.zip``: the immutable object a version is published from."""
        if not SHA256_HEX.fullmatch(zip_sha256):
            raise ConfigurationError(
                f"{zip_sha256!r} is not a sha256 in hex: a zip's key under "
                f"{self.s3dir_zips.uri} is its 64-character sha256"
            )
        return self.s3dir_zips.joinpath(f"{zip_sha256}.zip")

    def s3path_manifest_backup(self, layer_version: int, manifest_filename: str) -> S3Path:
        """``layer/000001/uv.lock`` for version 1."""
        return self.s3dir_layer.joinpath(f"{layer_version:06d}", manifest_filename)

    def s3path_version_sbom(self, layer_version: int) -> S3Path:
        """``layer/000001/sbom.cdx.json``: the SBOM of version 1's distributions."""
        return self.s3dir_layer.joinpath(f"{layer_version:06d}", "sbom.cdx.json")

    def s3path_version_contents(self, layer_version: int) -> S3Path:
        """``layer/000001/contents.json``: what version 1 holds, per distribution."""
        return self.s3dir_layer.joinpath(f"{layer_version:06d}", "contents.json")

    def s3path_last_manifest(self, manifest_filename: str) -> S3Path:
        """``layer/last-uv.lock``: the manifest of the newest version, whatever its target."""
        return self.s3dir_layer.joinpath(f"last-{manifest_filename}")

    def s3path_target_last_manifest(self, target: LayerTarget, manifest_filename: str) -> S3Path:
        """``layer/targets/python3.12-arm64/last-uv.lock``: the manifest of the newest
        version that ``target`` can use."""
        return self.s3dir_layer.joinpath("targets", target.name, f"last-{manifest_filename}")
