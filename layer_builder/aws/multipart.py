"""Multipart uploads that were started and neither completed nor aborted.

A run killed while sending parts (SIGKILL, a lost machine) leaves them: invisible in the
listing of objects, billed until aborted. ``prune`` aborts those under ``layer/`` by their
start time; the upload step aborts the stale ones under ``layer/zips/`` on every upload, and
judges staleness more carefully since it runs unattended beside other runs: an upload is
stale only when it was started *and* last sent a part at least ``age`` ago, on S3's clock.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
from typing import Any

import attrs
import botocore.exceptions

from layer_builder.aws.clients import aws_errors, error_code
from layer_builder.model.s3path import S3Path

logger = logging.getLogger(__name__)

#: What is spared however unfinished it looks: it may belong to a run in flight.
STALE_AGE = datetime.timedelta(days=1)


@attrs.frozen
class IncompleteUpload:
    """A multipart upload that was started and neither completed nor aborted."""

    s3path: S3Path
    upload_id: str
    initiated: datetime.datetime

    def to_json(self) -> dict[str, str]:
        """The upload as ``--json`` prints it."""
        return {
            "s3_uri": self.s3path.uri,
            "upload_id": self.upload_id,
            "initiated": self.initiated.isoformat(),
        }


def incomplete_uploads(s3: Any, folder: S3Path) -> tuple[IncompleteUpload, ...]:
    """The multipart uploads under ``folder`` that were neither completed nor aborted."""
    return _listed(s3, folder)[0]


def _listed(s3: Any, folder: S3Path) -> tuple[tuple[IncompleteUpload, ...], datetime.datetime]:
    """The unfinished uploads under ``folder``, and the time S3 answered (its ``Date``)."""
    found = []
    now = datetime.datetime.now(datetime.timezone.utc)
    with aws_errors(f"listing the unfinished multipart uploads under {folder.uri}"):
        paginator = s3.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=folder.bucket, Prefix=folder.key):
            now = _server_time(page) or now
            for item in page.get("Uploads", []):
                s3path = S3Path(folder.bucket, str(item["Key"]))
                found.append(IncompleteUpload(s3path, str(item["UploadId"]), item["Initiated"]))
    return tuple(found), now


def _server_time(response: Any) -> datetime.datetime | None:
    """The ``Date`` header of an S3 answer: ages are judged on S3's clock, not this host's."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return email.utils.parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None


def last_activity(s3: Any, upload: IncompleteUpload) -> datetime.datetime:
    """When ``upload`` last made progress: its start, or the last part it sent."""
    latest = upload.initiated
    with aws_errors(f"listing the parts of the unfinished upload of {upload.s3path.uri}"):
        paginator = s3.get_paginator("list_parts")
        try:
            pages = paginator.paginate(
                Bucket=upload.s3path.bucket, Key=upload.s3path.key, UploadId=upload.upload_id
            )
            for page in pages:
                for part in page.get("Parts", []):
                    latest = max(latest, part["LastModified"])
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "NoSuchUpload":
                raise
    return latest


def abort_upload(s3: Any, upload: IncompleteUpload) -> None:
    """Abort ``upload``; one that finished or was aborted meanwhile needs nothing."""
    with aws_errors(f"aborting the unfinished upload of {upload.s3path.uri}"):
        try:
            s3.abort_multipart_upload(
                Bucket=upload.s3path.bucket, Key=upload.s3path.key, UploadId=upload.upload_id
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "NoSuchUpload":
                raise


def abort_stale_uploads(
    s3: Any, folder: S3Path, age: datetime.timedelta = STALE_AGE
) -> tuple[IncompleteUpload, ...]:
    """Abort the unfinished uploads under ``folder`` that were started and last sent a part
    at least ``age`` ago (on S3's clock); returns them. A younger one may be another run's,
    still sending parts: it is left alone."""
    uploads, now = _listed(s3, folder)
    aborted = []
    for upload in uploads:
        # The start time alone would do on S3, but S3 look-alikes (moto dates every upload
        # 2010-11-10) make every upload look old: the parts' times say whether one is alive.
        if now - upload.initiated < age or now - last_activity(s3, upload) < age:
            continue
        abort_upload(s3, upload)
        logger.info("aborted the unfinished upload of %s, started %s (by a run that was killed?)",
                    upload.s3path.uri, upload.initiated.isoformat())  # fmt: skip
        aborted.append(upload)
    return tuple(aborted)
