"""An AWS CodeArtifact PyPI repository as an index URL carrying a fresh token.

The URL holds the token, so it goes only where ``IndexOptions`` sends URLs: the
installer's environment, never its command line, a file or a log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import attrs

from layer_builder.aws.client_config import make_client
from layer_builder.aws.clients import aws_errors, session_region
from layer_builder.errors import ConfigurationError


def codeartifact_client(session: Any = None) -> Any:
    """A CodeArtifact client of ``session`` (else the default chain), in its region; no
    region configured is an ``AwsError`` saying how to set one."""
    import boto3

    session = session or boto3.session.Session()
    region = session_region(session, "--codeartifact (CodeArtifact is regional)")
    return make_client(session, "codeartifact", region)


@attrs.frozen
class CodeArtifactRepository:
    """``domain/repository`` with an optional ``@owner`` (the domain's account id)."""

    domain: str
    repository: str
    owner: str | None = None

    @classmethod
    def parse(cls, value: str) -> CodeArtifactRepository:
        """``my-domain/my-repo`` or ``my-domain/my-repo@123456789012``."""
        spec, _, owner = value.partition("@")
        domain, _, repository = spec.partition("/")
        if not domain or not repository or "/" in repository:
            raise ConfigurationError(
                f"invalid CodeArtifact repository {value!r}: expected domain/repository or "
                f"domain/repository@owner-account-id (e.g. --codeartifact my-domain/pypi-store)"
            )
        return cls(domain, repository, owner or None)

    def index_url(self, client: Any, duration_seconds: int = 900) -> str:
        """The repository's ``/simple/`` URL with ``aws:<token>@`` credentials in it."""
        owner = {"domainOwner": self.owner} if self.owner else {}
        where = f"CodeArtifact repository {self.domain}/{self.repository}"
        with aws_errors(f"getting an authorization token for {where}"):
            token: str = client.get_authorization_token(
                domain=self.domain, durationSeconds=duration_seconds, **owner
            )["authorizationToken"]
        with aws_errors(f"getting the PyPI endpoint of {where}"):
            endpoint: str = client.get_repository_endpoint(
                domain=self.domain, repository=self.repository, format="pypi", **owner
            )["repositoryEndpoint"]
        parts = urlsplit(endpoint.rstrip("/") + "/simple/")
        netloc = f"aws:{quote(token, safe='')}@{parts.netloc}"
        return urlunsplit(parts._replace(netloc=netloc))
