"""The moto server behind ``LocalAwsEndpoint``: a thread serving moto's WSGI app on
127.0.0.1, a note of what each request changed, and moto's own logs kept off the terminal.

The note (``ChangeLog``) is what lets a stopping endpoint save only what changed: it sees every
request before moto does, and keeps the service and region of those that change state (from
the SigV4 credential scope every boto3 request carries), with the bucket or layer they name.

moto and werkzeug log a traceback on stderr for each request moto fails on (and werkzeug adds
a handler of its own to do so); while an endpoint runs, both loggers go to the
``layer_builder`` debug log instead (``-v`` shows them).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

import attrs

logger = logging.getLogger(__name__)

# AWS4 credential scope: <key>/<date>/<region>/<service>/aws4_request, in the Authorization
# header or (a presigned URL) in X-Amz-Credential.
_SCOPE = re.compile(r"Credential=[^/&,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_LAYER_PATH = re.compile(r"/\d{4}-\d{2}-\d{2}/layers/([^/?]+)")
# DeleteLayerVersion (not RemoveLayerVersionPermission, whose path goes on to /policy/<id>).
_VERSION_PATH = re.compile(r"/\d{4}-\d{2}-\d{2}/layers/[^/?]+/versions/(\d+)/?")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# JSON-protocol services (SSM...) send reads as POSTs: X-Amz-Target names the action.
_READ_ACTIONS = ("Get", "Describe", "List")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@attrs.frozen
class Changes:
    """What the requests seen since the last ``ChangeLog.take()`` changed."""

    #: ``(service, region)`` of every request that changed state.
    scopes: frozenset[tuple[str, str]] = frozenset()
    #: The buckets (``"s3"``) and ``"region/layer"`` names (``"lambda"``) those requests named.
    resources: frozenset[tuple[str, str]] = frozenset()
    #: A request changed state but its service or resource could not be told: assume anything.
    unknown: bool = False
    #: ``("region/layer", version)`` of the layer versions deleted.
    deleted: frozenset[tuple[str, int]] = frozenset()

    @property
    def any(self) -> bool:
        """Whether anything changed."""
        return self.unknown or bool(self.scopes)

    def touched(self, service: str) -> bool:
        """Whether ``service`` may have changed."""
        return self.unknown or any(s == service for s, _ in self.scopes)

    def regions(self, service: str) -> set[str]:
        """The regions of ``service`` that changed."""
        return {region for s, region in self.scopes if s == service}

    def named(self, service: str) -> set[str]:
        """The resources of ``service`` that changing requests named."""
        return {name for s, name in self.resources if s == service}

    def highest_deleted(self) -> dict[str, int]:
        """The highest version number deleted, by ``"region/layer"``: a layer reached it even
        when no version of it is left to list."""
        found: dict[str, int] = {}
        for layer, version in self.deleted:
            found[layer] = max(version, found.get(layer, 0))
        return found


class ChangeLog:
    """A WSGI middleware that notes the requests that change state (thread-safe)."""

    def __init__(self, app: WsgiApp, host: str):
        self.app = app
        self.host = host
        self._lock = threading.Lock()
        self._scopes: set[tuple[str, str]] = set()
        self._resources: set[tuple[str, str]] = set()
        self._deleted: set[tuple[str, int]] = set()
        self._unknown = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Note the request, then hand it to moto."""
        if changes_state(environ):
            self._note(environ)
        return self.app(environ, start_response)

    def _note(self, environ: dict[str, Any]) -> None:
        scope = request_scope(environ)
        path = str(environ.get("PATH_INFO", ""))
        resource, deleted = None, None
        if scope is not None and scope[0] == "s3":
            resource = bucket_of(path, str(environ.get("HTTP_HOST", "")), self.host)
        elif scope is not None and scope[0] == "lambda":
            match = _LAYER_PATH.match(path)
            if match:
                resource = layer_id(scope[1], unquote(match[1]))
                version = _VERSION_PATH.fullmatch(path)
                if version and environ.get("REQUEST_METHOD") == "DELETE":
                    deleted = (resource, int(version[1]))
        with self._lock:
            if scope is None or (scope[0] == "s3" and resource is None):
                # A bucket must be named: it decides what is saved.
                self._unknown = True
            if scope is not None:
                self._scopes.add(scope)
            if resource is not None and scope is not None:
                self._resources.add((scope[0], resource))
            if deleted is not None:
                self._deleted.add(deleted)

    def take(self) -> Changes:
        """What changed since the last call, and forget it."""
        with self._lock:
            changes = Changes(
                frozenset(self._scopes),
                frozenset(self._resources),
                self._unknown,
                frozenset(self._deleted),
            )
            self._scopes.clear()
            self._resources.clear()
            self._deleted.clear()
            self._unknown = False
        return changes


def layer_id(region: str, name: str) -> str:
    """``"region/name"`` of a layer named by its name or its ARN
    (``arn:aws:lambda:<region>:<account>:layer:<name>``)."""
    parts = name.split(":")
    if name.startswith("arn:") and len(parts) >= 7:
        return f"{parts[3]}/{parts[6]}"
    return f"{region}/{name}"


def changes_state(environ: dict[str, Any]) -> bool:
    """Whether a request may change state (anything but a read)."""
    if environ.get("REQUEST_METHOD", "GET") in _READ_METHODS:
        return False
    action = str(environ.get("HTTP_X_AMZ_TARGET", "")).rpartition(".")[2]
    return not action.startswith(_READ_ACTIONS) if action else True


def request_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """``(service, region)`` a request is signed for, or None when it is not signed."""
    text = str(environ.get("HTTP_AUTHORIZATION", ""))
    match = _SCOPE.search(text) or _SCOPE.search(unquote(str(environ.get("QUERY_STRING", ""))))
    return (match[2], match[1]) if match else None


def bucket_of(path: str, host_header: str, server_host: str) -> str | None:
    """The bucket an S3 request names: path style (``/bucket/key``, what botocore uses for an
    IP endpoint) or virtual host (``bucket.localhost``)."""
    hostname = host_header.rsplit(":", 1)[0] if not host_header.startswith("[") else ""
    if hostname and hostname not in (server_host, "localhost") and not _is_ip(hostname):
        return hostname.split(".", 1)[0] or None
    first = path.lstrip("/").split("/", 1)[0]
    return unquote(first) if first and first != "moto-api" else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class MotoThread:
    """moto's WSGI app behind a ``ChangeLog``, served by werkzeug in a daemon thread."""

    def __init__(self, moto_server: Any, host: str, port: int):
        from werkzeug.serving import make_server

        app = moto_server.DomainDispatcherApplication(moto_server.create_backend_app)
        self.changes = ChangeLog(app, host)
        # Bound here, in the caller's thread: a port in use fails the start, not the thread.
        self._server = make_server(
            host, port, self.changes, threaded=True, request_handler=moto_server.MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # shutdown() waits for the loop to look: 0.5 s by default, at every stop.
            kwargs={"poll_interval": 0.05},
            name="layer-builder-moto",
            daemon=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the server listens on."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Serve requests from now on."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wait for the thread, and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


class _ToDebugLog(logging.Handler):
    """Hands moto's and werkzeug's records to this module's debug log."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format
            message = str(record.msg)
        logger.debug("moto server (%s): %s", record.name, message, exc_info=record.exc_info)


_ROUTED = ("werkzeug", "moto")
_routing_lock = threading.Lock()
_routing_users = 0
_saved: dict[str, tuple[list[logging.Handler], bool, int]] = {}


def route_moto_logs() -> None:
    """Send the ``werkzeug`` and ``moto`` loggers to the debug log (until the last
    ``unroute_moto_logs()``: endpoints may overlap)."""
    global _routing_users
    with _routing_lock:
        _routing_users += 1
        if _routing_users > 1:
            return
        handler = _ToDebugLog()
        for name in _ROUTED:
            third_party = logging.getLogger(name)
            _saved[name] = (third_party.handlers[:], third_party.propagate, third_party.level)
            # A handler of our own also keeps werkzeug from adding its stderr handler; below
            # WARNING are werkzeug's lines per request.
            third_party.handlers[:] = [handler]
            third_party.propagate = False
            third_party.setLevel(logging.WARNING)


def unroute_moto_logs() -> None:
    """Undo one ``route_moto_logs()``; the last one gives the loggers back as they were."""
    global _routing_users
    with _routing_lock:
        _routing_users -= 1
        if _routing_users > 0:
            return
        for name, (handlers, propagate, level) in _saved.items():
            third_party = logging.getLogger(name)
            third_party.handlers[:] = handlers
            third_party.propagate = propagate
            third_party.setLevel(level)
        _saved.clear()
