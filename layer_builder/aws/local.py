"""The embedded local AWS endpoint: a moto server on 127.0.0.1, for demos and tests.

Needs the ``local`` extra (``pip install 'lambda-layer-builder[local]'``).

With a ``state_path``, the endpoint outlives its process: ``start()`` recreates the buckets,
objects, layer versions and SSM parameters saved there, through the public AWS API, and
``stop()`` saves them again when a request changed any (see ``local_state`` for the files,
``local_capture`` and ``local_restore`` for the two directions).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.exceptions

from layer_builder.aws.clients import AwsClients, aws_errors, error_code
from layer_builder.aws.local_capture import (
    AccountClients,
    Inventory,
    KnownObjects,
    capture_layers,
    capture_parameters,
    capture_s3,
    take_inventory,
)
from layer_builder.aws.local_restore import create_bucket, restore_state
from layer_builder.aws.local_server import Changes, MotoThread, route_moto_logs, unroute_moto_logs
from layer_builder.aws.local_state import (
    BlobStore,
    LocalState,
    StateFormatError,
    parse_state,
    write_state,
)
from layer_builder.errors import AwsError, ConfigurationError

logger = logging.getLogger(__name__)

LOCAL_REGION = "us-east-1"
# moto accepts any credentials; fixed ones keep the user's real ones out of the local run.
_LOCAL_KEY = "testing"
_API_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)


def _import_moto_server() -> Any:
    try:
        import moto.server
    except ImportError:
        raise ConfigurationError(
            "the local AWS endpoint needs moto's server: pip install 'lambda-layer-builder[local]'"
        ) from None
    return moto.server


def _failure(exc: BaseException) -> str:
    """A failed call in a few words."""
    if isinstance(exc, botocore.exceptions.ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{error_code(exc)} {message}".strip()
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


class _StateKeeper:
    """The state of one endpoint at ``path``: read and recreated on start, saved on stop."""

    def __init__(self, path: Path, clients: AccountClients):
        self.path = path
        self.blobs = BlobStore(path.with_suffix(".blobs"))
        self.clients = clients
        #: What the state file holds (empty when it cannot be used).
        self.saved = LocalState()
        #: The file cannot be used and is to be replaced (or, False, left alone).
        self.replace = False
        self.may_save = True
        self.found = Inventory()
        self.known: KnownObjects = {}

    def restore(self) -> None:
        """Read the state file, if any, and recreate what it holds."""
        home = self.clients.home
        try:
            if not self.path.exists():
                self.found = take_inventory(self.clients, {home})
                return
            with self.blobs.lock():
                self.saved = self._read()
                self.found = take_inventory(self.clients, {home} | self.saved.regions())
                self.known = restore_state(self.saved, self.blobs, self.clients, self.found)
        except (*_API_ERRORS, OSError) as exc:
            raise AwsError(
                f"restoring the local AWS state saved in {self.path} failed ({_failure(exc)}): "
                f"delete {self.path.parent} to start from an empty local account"
            ) from exc
        if self.may_save and not self.replace:
            logger.info("local AWS endpoint: restored the state saved in %s", self.path)

    def _read(self) -> LocalState:
        try:
            state = parse_state(self.path.read_bytes())
            missing = [s for s, size in state.sizes().items() if not self.blobs.has(s, size)]
            if missing:
                raise StateFormatError(f"its blob {self.blobs.path(missing[0])} is missing")
        except (StateFormatError, OSError) as exc:
            replace = getattr(exc, "replace", True)
            reason = str(exc) if isinstance(exc, StateFormatError) else _failure(exc)
            then = (
                "the file is replaced when the endpoint stops"
                if replace
                else f"the file is left as it is (delete {self.path.parent} to start over)"
            )
            logger.warning(
                "local AWS state %s cannot be used: %s; starting from an empty local account "
                "(layers are published again), and %s",
                self.path,
                reason,
                then,
            )
            self.replace, self.may_save = replace, replace
            return LocalState()
        return state

    def save(self, changes: Changes) -> None:
        """Save the state again when ``changes`` (or an unusable file) asks for it."""
        if not self.may_save or not (changes.any or self.replace):
            return
        with self.blobs.lock():
            state = self._capture(changes)
            if self.replace or state != self.saved or not self.path.is_file():
                self.blobs.sync()  # the blobs it names exist before it does
                write_state(self.path, state)
                logger.info("local AWS endpoint: saved its state in %s", self.path)
            self.blobs.collect(state.blobs())
        self.saved, self.replace = state, False

    def _capture(self, changes: Changes) -> LocalState:
        saved, clients = self.saved, self.clients
        # Another process saving this state may have deleted blobs this one still names.
        full = changes.unknown or self.replace or not all(map(self.blobs.has, saved.blobs()))
        if full or changes.touched("s3"):
            own = {b.name for b in saved.buckets} | changes.named("s3")
            skip = set(self.found.buckets) - own
            buckets, objects = capture_s3(clients, self.blobs, skip, self.known)
        else:
            buckets, objects = list(saved.buckets), list(saved.objects)
        everywhere = (
            {clients.home}
            | saved.regions()
            | {b.region for b in buckets}
            | {region for _, region in changes.scopes}
        )
        own_layers = {f"{layer.region}/{layer.name}" for layer in saved.layers}
        skip_layers = set(self.found.layers) - own_layers - changes.named("lambda")
        reached = {f"{layer.region}/{layer.name}": layer.last_version for layer in saved.layers}
        for layer, version in changes.highest_deleted().items():
            reached[layer] = max(version, reached.get(layer, 0))
        lambda_regions = everywhere if full else changes.regions("lambda")
        layers = [layer for layer in saved.layers if layer.region not in lambda_regions]
        for region in sorted(lambda_regions):
            layers += capture_layers(clients, region, self.blobs, skip_layers, reached)
        ssm_regions = everywhere if full else changes.regions("ssm")
        parameters = [p for p in saved.parameters if p.region not in ssm_regions]
        for region in sorted(ssm_regions):
            parameters += capture_parameters(clients, region)
        return LocalState(
            tuple(sorted(buckets, key=lambda b: b.name)),
            tuple(sorted(objects, key=lambda o: (o.bucket, o.key))),
            tuple(sorted(layers, key=lambda layer: (layer.region, layer.name))),
            tuple(sorted(parameters, key=lambda p: (p.region, p.name))),
        )


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
        self._moto = _import_moto_server()
        self.host = host
        self.port = port
        self.region = region
        self.state_path = state_path
        self._server: MotoThread | None = None
        self._keeper: _StateKeeper | None = None
        self._endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``, once started."""
        if self._endpoint_url is None:
            raise RuntimeError("the local AWS endpoint is not started")
        return self._endpoint_url

    def start(self) -> LocalAwsEndpoint:
        """Start the moto server and recreate the saved state, if any; returns self."""
        if self._server is not None:
            return self
        route_moto_logs()
        try:
            self._server = MotoThread(self._moto, self.host, self.port)
            self._server.start()
            host, port = self._server.address
            self._endpoint_url = f"http://{host}:{port}"
            if self.state_path is not None:
                account = AccountClients(self.session(), self._endpoint_url, self.region)
                self._keeper = _StateKeeper(self.state_path, account)
                self._keeper.restore()
            self._server.changes.take()  # the restore changed nothing that is not saved
        except BaseException:
            self._shut_down()
            raise
        logger.info("local AWS endpoint (moto) listening on %s", self._endpoint_url)
        return self

    def stop(self) -> None:
        """Save the state (with ``state_path``, when a request changed it) and shut the
        server down. A save that fails is a warning: the state saved before is kept."""
        if self._server is None:
            return
        try:
            if self._keeper is not None:
                changes = self._server.changes.take()
                try:
                    self._keeper.save(changes)
                except (*_API_ERRORS, OSError) as exc:
                    logger.warning(
                        "could not save the local AWS state in %s (%s): the state saved before "
                        "is kept, and the next run does not see this one's changes",
                        self.state_path,
                        _failure(exc),
                    )
                    logger.debug("saving the local AWS state failed", exc_info=True)
        finally:
            self._shut_down()

    def _shut_down(self) -> None:
        server, self._server = self._server, None
        self._keeper = None
        self._endpoint_url = None
        try:
            if server is not None:
                server.stop()
        finally:
            unroute_moto_logs()

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
        region = region or self.region
        s3 = self.session().client("s3", endpoint_url=self.endpoint_url, region_name=region)
        with aws_errors(f"creating S3 bucket {bucket!r} on the local endpoint"):
            existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
            if bucket not in existing:
                create_bucket(s3, bucket, region)

    def __enter__(self) -> LocalAwsEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
