"""CodeArtifactRepository: the index URL built from a token, checked with botocore's Stubber."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from layer_builder.aws.codeartifact import CodeArtifactRepository
from layer_builder.errors import AwsError, ConfigurationError
from layer_builder.installers import IndexOptions


def test_parse() -> None:
    assert CodeArtifactRepository.parse("dom/repo") == CodeArtifactRepository("dom", "repo")
    assert CodeArtifactRepository.parse("dom/repo@123456789012").owner == "123456789012"
    with pytest.raises(ConfigurationError, match="expected domain/repository"):
        CodeArtifactRepository.parse("just-a-domain")


def test_index_url_carries_the_token_and_redacts() -> None:
    client = boto3.client(
        "codeartifact", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    endpoint = "https://dom-123456789012.d.codeartifact.us-east-1.amazonaws.com/pypi/repo/"
    with Stubber(client) as stub:
        stub.add_response(
            "get_authorization_token",
            {"authorizationToken": "tok/en+secret"},
            {"domain": "dom", "durationSeconds": 900, "domainOwner": "123456789012"},
        )
        stub.add_response(
            "get_repository_endpoint",
            {"repositoryEndpoint": endpoint},
            {
                "domain": "dom",
                "repository": "repo",
                "format": "pypi",
                "domainOwner": "123456789012",
            },
        )
        url = CodeArtifactRepository("dom", "repo", "123456789012").index_url(client)
    assert url == (
        "https://aws:tok%2Fen%2Bsecret@dom-123456789012.d.codeartifact.us-east-1"
        ".amazonaws.com/pypi/repo/simple/"
    )
    index = IndexOptions(url)
    assert "secret" not in repr(index)
    assert index.redact(f"failed at {url}") == (
        "failed at https://****@dom-123456789012.d.codeartifact.us-east-1"
        ".amazonaws.com/pypi/repo/simple/"
    )


def test_aws_failure_is_one_line() -> None:
    client = boto3.client(
        "codeartifact", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    with Stubber(client) as stub:
        stub.add_client_error("get_authorization_token", "AccessDeniedException", "no")
        with pytest.raises(AwsError, match="authorization token for CodeArtifact repository dom/r"):
            CodeArtifactRepository("dom", "r").index_url(client)
