"""A lock on publishing a layer, held as an S3 object written only if absent.

Two runs of the same layer and manifest may build and upload at the same time; only one may
decide and publish at a time, so that exactly one new version appears and the other run reports
it. The lock is ``layer/.publish.lock``, created with ``If-None-Match: *`` (S3 refuses the
second writer). The lock names its holder (host, pid, process start time: see
``liveness``): a run on the same host takes over at once a lock whose holder is dead. Any
other lock whose holder died expires after its ``ttl``, judged on the S3 server's clock (its
``Last-Modified`` against the ``Date`` of the response), so that clock skew between hosts
cannot end a live lock early. Taking over and releasing use ``If-Match`` on the lock's ETag,
so a run never deletes a lock another run holds. Release runs on any exception, including
``KeyboardInterrupt`` (Ctrl-C, and SIGTERM in the CLI), also when it interrupts taking or
releasing the lock.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import attrs
import botocore.exceptions

from layer_builder.aws.clients import aws_errors, error_code, is_not_found
from layer_builder.errors import AwsError, LockTimeoutError
from layer_builder.model.s3path import S3Path
from layer_builder.steps.publish.liveness import ProcessId

logger = logging.getLogger(__name__)

#: How long a lock lives when its holder never releases it (a killed run).
DEFAULT_TTL = 300.0

_CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


@attrs.frozen
class LockHolder:
    """What a lock object says about the run that holds it."""

    owner: str
    etag: str
    age: float
    ttl: float
    #: The holder's host and pid (None in a lock written by an older version).
    process: ProcessId | None = None

    @property
    def expired(self) -> bool:
        """Whether the holder has kept the lock past its time to live."""
        return self.age > self.ttl

    def describe(self) -> str:
        """``pid 123 on host ci-7``, or the owner string when the lock names no process."""
        return self.process.describe() if self.process else self.owner


class PublishLock:
    """Context manager holding ``s3path`` (``layer/.publish.lock``) while a run publishes."""

    def __init__(
        self,
        s3: Any,
        s3path: S3Path,
        ttl: float = DEFAULT_TTL,
        poll_interval: float = 0.5,
        wait_timeout: float | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.s3 = s3
        self.s3path = s3path
        self.ttl = ttl
        self.poll_interval = poll_interval
        # Past this, the holder's lock has expired anyway and is taken over.
        self.wait_timeout = ttl + 60 if wait_timeout is None else wait_timeout
        #: How a waiter waits before trying again (default: until this process releases
        #: the lock, at most ``poll_interval``).
        self.sleep = sleep or self._wait_for_release
        self.process = ProcessId.current()
        self.owner = f"{self.process.host}:{self.process.pid}:{uuid.uuid4().hex[:8]}"
        self._etag: str | None = None
        self._releases_seen = 0
        self.waited = False

    def acquire(self) -> None:
        """Take the lock, waiting for the holder (taking it over when dead or expired)."""
        try:
            self._acquire()
        except BaseException:
            # A write whose response was lost, or that a signal interrupted, may still have
            # made the lock: leave none behind to hold the next run up until it expires.
            self._remove_if_ours()
            raise

    def _acquire(self) -> None:
        deadline = time.monotonic() + self.wait_timeout
        while not self._try_create():
            holder = self._read()
            if holder is None:
                continue  # released between our write and our read: try again at once
            if holder.owner == self.owner:
                # Our own write, whose response was lost and retried by botocore.
                self._etag = holder.etag
                return
            if holder.process is not None and holder.process.is_dead():
                logger.warning(
                    "taking over %s: its holder, %s, is dead (it held the lock for %.0f s)",
                    self.s3path.uri, holder.describe(), holder.age,
                )  # fmt: skip
                self._delete(holder.etag)
                continue
            if holder.expired:
                logger.warning(
                    "taking over %s: its holder %s did not release it within %.0f s",
                    self.s3path.uri, holder.describe(), holder.ttl,
                )  # fmt: skip
                self._delete(holder.etag)
                continue
            if time.monotonic() > deadline:
                raise LockTimeoutError(
                    f"{self.s3path.uri} is held by {holder.describe()} for {holder.age:.0f} s: "
                    f"another run is publishing this layer; wait for it, or delete the lock "
                    f"object if that run died"
                )
            if not self.waited:
                logger.info(
                    "waiting for the publish lock %s, held by %s for %.0f s (expires after "
                    "%.0f s)", self.s3path.uri, holder.describe(), holder.age, holder.ttl,
                )  # fmt: skip
                self.waited = True
            self.sleep(self.poll_interval)

    def release(self) -> None:
        """Delete the lock if it is still ours; a failure only delays others until expiry."""
        if self._etag is None:
            return
        etag = self._etag
        try:
            self._delete(etag)
        except AwsError as exc:
            logger.warning("could not release %s (%s): it expires in %.0f s",
                           self.s3path.uri, exc, self.ttl)  # fmt: skip
        except BaseException:
            # A signal cut the delete short; the CLI ignores further stop signals while it
            # unwinds, so finish the delete before going on.
            with contextlib.suppress(Exception):
                self._delete(etag)
            raise
        finally:
            self._etag = None
            _release_signal(self.s3path.uri).released()

    def _wait_for_release(self, seconds: float) -> None:
        """Wait ``seconds``, or less when another thread of this process releases this
        lock (several targets of one command): it is then tried at once, not after a poll."""
        _release_signal(self.s3path.uri).wait(self._releases_seen, seconds)

    def _remove_if_ours(self) -> None:
        try:
            holder = self._read()
            if holder is not None and holder.owner == self.owner:
                self._delete(holder.etag)
        except Exception:  # best effort: the lock expires anyway
            logger.debug("could not check %s for a lock of ours", self.s3path.uri, exc_info=True)
        self._etag = None

    def _try_create(self) -> bool:
        # Counted before trying: a release from now on ends the wait that may follow.
        self._releases_seen = _release_signal(self.s3path.uri).count
        document = {"owner": self.owner, "ttl": self.ttl, **self.process.to_json()}
        body = json.dumps(document).encode()
        with aws_errors(f"taking the publish lock {self.s3path.uri}"):
            try:
                response = self.s3.put_object(
                    Bucket=self.s3path.bucket,
                    Key=self.s3path.key,
                    Body=body,
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) in _CONFLICT:
                    return False
                raise
        self._etag = str(response["ETag"])
        return True

    def _read(self) -> LockHolder | None:
        with aws_errors(f"reading the publish lock {self.s3path.uri}"):
            try:
                response = self.s3.get_object(Bucket=self.s3path.bucket, Key=self.s3path.key)
            except botocore.exceptions.ClientError as exc:
                if is_not_found(exc):
                    return None
                raise
        try:
            document = json.loads(response["Body"].read())
            owner, ttl = str(document["owner"]), float(document["ttl"])
        except (ValueError, KeyError, TypeError):
            document, owner, ttl = None, "an unknown run", self.ttl
        process = ProcessId.from_json(document)
        return LockHolder(owner, str(response["ETag"]), _age(response), ttl, process)

    def _delete(self, etag: str) -> None:
        with aws_errors(f"deleting the publish lock {self.s3path.uri}"):
            try:
                self.s3.delete_object(Bucket=self.s3path.bucket, Key=self.s3path.key, IfMatch=etag)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) not in _CONFLICT and not is_not_found(exc):
                    raise
                # Already gone, or someone else's now: either way not ours to delete.

    def __enter__(self) -> PublishLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class _ReleaseSignal:
    """The releases of one lock object by this process, counted, for its threads to wait on."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.count = 0

    def released(self) -> None:
        with self.condition:
            self.count += 1
            self.condition.notify_all()

    def wait(self, seen: int, seconds: float) -> None:
        """Wait ``seconds`` unless a release came after ``seen``, or until one comes."""
        with self.condition:
            self.condition.wait_for(lambda: self.count != seen, seconds)


_signals: dict[str, _ReleaseSignal] = {}
_signals_guard = threading.Lock()


def _release_signal(uri: str) -> _ReleaseSignal:
    """What the holders of the lock at ``uri`` in this process signal when they release it."""
    with _signals_guard:
        return _signals.setdefault(uri, _ReleaseSignal())


def _age(response: dict[str, Any]) -> float:
    """Seconds since the object was written, by the server's own clock (this host's when the
    answer has no ``Date`` that can be read)."""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    # Both ends read from the raw headers the same way: botocore reads a ``Last-Modified``
    # in "-0000" as local time, which would age a lock by this host's UTC offset.
    modified = _http_date(headers.get("last-modified")) or _utc(response["LastModified"])
    now = _http_date(headers.get("date")) or datetime.datetime.now(datetime.timezone.utc)
    return (now - modified).total_seconds()


def _http_date(text: str | None) -> datetime.datetime | None:
    """An HTTP date header as an aware datetime; None when absent or unreadable."""
    if not text:
        return None
    try:
        return _utc(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError):
        return None


def _utc(moment: datetime.datetime) -> datetime.datetime:
    """``moment``, a naive one taken as UTC: HTTP dates are GMT, and a server that writes
    "-0000" (Python's ``email.utils.formatdate()``) or no zone at all means UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)
