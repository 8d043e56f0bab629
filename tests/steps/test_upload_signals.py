"""A multipart upload stopped by a real SIGTERM is aborted: no parts are left on S3."""

from __future__ import annotations

import hashlib
import signal
import sys
from pathlib import Path

import pytest

from layer_builder import LocalAwsEndpoint
from tests.aws_helpers import object_keys
from tests.conftest import MakeProject
from tests.pause_hook import CliChild


@pytest.mark.usefixtures("aws_env")
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_during_a_multipart_upload_aborts_it(
    make_project: MakeProject,
    tmp_path: Path,
    moto_endpoint: LocalAwsEndpoint,
    bucket: str,
    layer_name: str,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    args = ["run", "--project", project, "--layer-name", layer_name,
            "--s3dir", f"s3://{bucket}/app/"]  # fmt: skip
    # Multipart from one byte on; the part waits (in s3transfer's worker thread) until the
    # transfer is cancelled, so the signal lands while the upload is open.
    child = CliChild(tmp_path / "run", args, operation="UploadPart", multipart=True)
    aws = moto_endpoint.clients()
    try:
        child.wait_until_paused()
        started = aws.s3.list_multipart_uploads(Bucket=bucket, Prefix="app/layer/")
        assert [u["Key"] for u in started.get("Uploads", [])] == [
            f"app/layer/zips/{_zip_sha256(project)}.zip"
        ]
        child.process.send_signal(signal.SIGTERM)
        code = child.wait()
    finally:
        child.stop()

    assert code == 143, child.stderr
    assert "stopped by SIGTERM; cleaned up" in child.stderr
    left = aws.s3.list_multipart_uploads(Bucket=bucket, Prefix="app/layer/")
    assert left.get("Uploads", []) == []
    assert object_keys(aws, bucket) == []  # aborted, not completed; no lock left either


def _zip_sha256(project: Path) -> str:
    return hashlib.sha256((project / "build/lambda/layer/layer.zip").read_bytes()).hexdigest()
