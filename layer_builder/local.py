"""The embedded local AWS endpoint: a moto server on 127.0.0.1, for demos and tests.

Needs the ``local`` extra (``pip install 'lambda-layer-builder[local]'``).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import boto3

from layer_builder.aws import AwsClients
from layer_builder.errors import ConfigurationError

logger = logging.getLogger(__name__)

LOCAL_REGION = "us-east-1"
# moto accepts any credentials; fixed ones keep the user's real ones out of the local run.
_LOCAL_KEY = "testing"


class LocalAwsEndpoint:
    """A moto server on a free port of 127.0.0.1; a context manager that stops it on exit.

    >>> with LocalAwsEndpoint() as endpoint:
    ...     endpoint.ensure_bucket("my-bucket")
    ...     aws = endpoint.clients()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, region: str = LOCAL_REGION):
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise ConfigurationError(
                "the local AWS endpoint needs moto's server: "
                "pip install 'lambda-layer-builder[local]'"
            ) from None
        # Werkzeug logs every request at INFO; that is noise next to our progress.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.region = region
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("the local AWS endpoint is not started")
        return self._endpoint_url

    def start(self) -> LocalAwsEndpoint:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        logger.info("local AWS endpoint (moto) listening on %s", self._endpoint_url)
        return self

    def stop(self) -> None:
        if self._endpoint_url is not None:
            self._server.stop()
            self._endpoint_url = None

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(
            aws_access_key_id=_LOCAL_KEY, aws_secret_access_key=_LOCAL_KEY, region_name=self.region
        )

    def client(self, service: Any) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)

    def clients(self) -> AwsClients:
        return AwsClients.from_session(self.session(), endpoint_url=self.endpoint_url)

    def ensure_bucket(self, bucket: str) -> None:
        s3 = self.client("s3")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)

    def __enter__(self) -> LocalAwsEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
