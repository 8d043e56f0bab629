"""The embedded local AWS endpoint: a moto server on 127.0.0.1, for demos and tests.

Needs the ``local`` extra (``pip install 'lambda-layer-builder[local]'``).

With a ``state_path``, the endpoint outlives its process: moto's request recorder logs every
request that changes state, the log is saved there on ``stop()`` and replayed on the next
``start()``, so a second run sees the buckets, objects and layer versions of the first.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from layer_builder.archive.safe_files import write_replacing
from layer_builder.aws.clients import AwsClients, aws_errors
from layer_builder.errors import ConfigurationError

logger = logging.getLogger(__name__)

LOCAL_REGION = "us-east-1"
# moto accepts any credentials; fixed ones keep the user's real ones out of the local run.
_LOCAL_KEY = "testing"
_RECORDER = "/moto-api/recorder"
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@functools.cache
def _scratch_recording() -> Path:
    scratch = Path(tempfile.gettempdir()) / f"layer-builder-moto-{os.getpid()}.jsonl"
    atexit.register(scratch.unlink, missing_ok=True)
    return scratch


def _import_moto_server() -> Any:
    # moto's recorder reads its log location from the environment once, at import: point it
    # at a scratch file (removed at exit) instead of the cwd, without leaving the variable set.
    previous = os.environ.get("MOTO_RECORDER_FILEPATH")
    os.environ.setdefault("MOTO_RECORDER_FILEPATH", str(_scratch_recording()))
    try:
        import moto.moto_api  # noqa: F401  # creates the recorder while the variable is set
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ConfigurationError(
            "the local AWS endpoint needs moto's server: pip install 'lambda-layer-builder[local]'"
        ) from None
    finally:
        if previous is None:
            os.environ.pop("MOTO_RECORDER_FILEPATH", None)
    return ThreadedMotoServer


def _state_changing(line: str) -> bool:
    if not line.strip():
        return False
    entry = json.loads(line)
    return entry.get("method") not in _READ_ONLY_METHODS and _RECORDER not in entry.get("url", "")


class LocalAwsEndpoint:
    """A moto server on a free port of 127.0.0.1; a context manager that stops it on exit.

    >>> with LocalAwsEndpoint() as endpoint:
    ...     endpoint.ensure_bucket("my-bucket")
    ...     aws = endpoint.clients()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = LOCAL_REGION,
        state_path: Path | None = None,
    ):
        server_class = _import_moto_server()
        # Werkzeug logs every request at INFO; that is noise next to our progress.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.region = region
        self.state_path = state_path
        self._server = server_class(ip_address=host, port=port, verbose=False)
        self._endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``, once started."""
        if self._endpoint_url is None:
            raise RuntimeError("the local AWS endpoint is not started")
        return self._endpoint_url

    def start(self) -> LocalAwsEndpoint:
        """Start the moto server (and replay the saved state, if any); returns self."""
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        if self.state_path is not None:
            self._restore(self.state_path)
        logger.info("local AWS endpoint (moto) listening on %s", self._endpoint_url)
        return self

    def stop(self) -> None:
        """Save the state (with ``state_path``) and shut the server down."""
        if self._endpoint_url is None:
            return
        try:
            if self.state_path is not None:
                self._save(self.state_path)
        finally:
            self._server.stop()
            self._endpoint_url = None

    def _recorder(self, action: str, data: bytes | None = None) -> str:
        import requests  # a dependency of moto, so present whenever moto is

        method = "GET" if action == "download-recording" else "POST"
        url = f"{self.endpoint_url}{_RECORDER}/{action}"
        response = requests.request(method, url, data=data, timeout=600)
        response.raise_for_status()
        return str(response.text)

    def _restore(self, state_path: Path) -> None:
        if state_path.is_file():
            self._recorder("upload-recording", state_path.read_bytes())
            self._recorder("replay-recording")
            logger.info("local AWS endpoint: restored the state saved in %s", state_path)
        else:
            self._recorder("reset-recording")
        self._recorder("start-recording")

    def _save(self, state_path: Path) -> None:
        self._recorder("stop-recording")
        lines = self._recorder("download-recording").splitlines()
        kept = "".join(line + "\n" for line in lines if _state_changing(line))
        state_path.parent.mkdir(parents=True, exist_ok=True)
        # A partial file of its own, swapped in whole: never another process's, never
        # written through a link at the state's path.
        write_replacing(state_path, kept.encode("utf-8"))
        self._recorder("reset-recording")

    def session(self) -> boto3.session.Session:
        """A boto3 session with the endpoint's fixed test credentials and region."""
        return boto3.session.Session(
            aws_access_key_id=_LOCAL_KEY, aws_secret_access_key=_LOCAL_KEY, region_name=self.region
        )

    def client(self, service: Any) -> Any:
        """A raw boto3 client of ``service`` pointed at this endpoint."""
        return self.session().client(service, endpoint_url=self.endpoint_url)

    def clients(self) -> AwsClients:
        """The S3 and Lambda clients the steps use, pointed at this endpoint."""
        return AwsClients.from_session(self.session(), endpoint_url=self.endpoint_url)

    def ensure_bucket(self, bucket: str, region: str | None = None) -> None:
        """Create ``bucket`` (in ``region``, by default the endpoint's) if it is missing."""
        s3 = self.client("s3")
        region = region or self.region
        # us-east-1 is the one region S3 refuses as a LocationConstraint.
        where = {} if region == "us-east-1" else {"LocationConstraint": region}
        with aws_errors(f"creating S3 bucket {bucket!r} on the local endpoint"):
            existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
            if bucket not in existing:
                s3.create_bucket(
                    Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {})
                )

    def __enter__(self) -> LocalAwsEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
