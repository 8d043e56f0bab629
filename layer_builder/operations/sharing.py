"""Sharing a layer version: ``lambda:GetLayerVersion`` for accounts, an organisation, everyone.

Each grant has a statement id derived from what it grants, so granting again finds the
statement already there and changes nothing (AWS would refuse a duplicate statement id;
the local endpoint would silently add a second one, so the policy is read first either way).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

import attrs
import botocore.exceptions

from layer_builder.aws.clients import aws_errors, error_code
from layer_builder.errors import ConfigurationError

logger = logging.getLogger(__name__)

ACTION = "lambda:GetLayerVersion"
_ACCOUNT = re.compile(r"[0-9]{12}")  # \d would accept other scripts' digits
_ORGANIZATION = re.compile(r"o-[a-z0-9]{10,32}")


@attrs.frozen
class Grant:
    """Who may use the layer: an account id, an organisation (``o-...``) or everyone."""

    principal: str
    organization_id: str | None = None

    @classmethod
    def account(cls, account_id: str) -> Grant:
        """Let the AWS account ``account_id`` (12 digits) use the layer."""
        if not _ACCOUNT.fullmatch(account_id):
            raise ConfigurationError(
                f"invalid AWS account id {account_id!r}: expected 12 digits "
                f"(e.g. --grant-account 123456789012)"
            )
        return cls(account_id)

    @classmethod
    def organization(cls, organization_id: str) -> Grant:
        """Let every account of the AWS organization ``organization_id`` use the layer."""
        if not _ORGANIZATION.fullmatch(organization_id):
            raise ConfigurationError(
                f"invalid organization id {organization_id!r}: expected o- and 10 to 32 "
                f"lowercase letters or digits (e.g. --grant-org o-a1b2c3d4e5)"
            )
        return cls("*", organization_id)

    @classmethod
    def everyone(cls) -> Grant:
        """Let every AWS account use the layer."""
        return cls("*")

    @property
    def statement_id(self) -> str:
        """The statement id the grant is added under, the same on every run."""
        if self.organization_id:
            return f"layer-builder-org-{self.organization_id}"
        if self.principal == "*":
            return "layer-builder-public"
        return f"layer-builder-account-{self.principal}"

    @property
    def description(self) -> str:
        """Who the grant is for, in words."""
        if self.organization_id:
            return f"organization {self.organization_id}"
        return "everyone" if self.principal == "*" else f"account {self.principal}"

    def matches(self, statement: dict[str, Any]) -> bool:
        """Whether a policy statement grants exactly this (as AWS or moto spell it)."""
        principal = statement.get("Principal")
        principal_text = json.dumps(principal)
        org_text = json.dumps(statement.get("Condition") or statement.get("OrganizationId"))
        if self.organization_id:
            return principal in ("*", {"AWS": "*"}) and self.organization_id in org_text
        if self.principal == "*":
            return principal in ("*", {"AWS": "*"}) and "o-" not in org_text
        return self.principal in principal_text


@attrs.frozen
class GrantResult:
    """One grant on one layer version: whether this run added it."""

    grant: Grant
    layer_version_arn: str
    added: bool


def policy_statements(lambda_: Any, layer_name: str, version: int) -> dict[str, dict[str, Any]]:
    """The statements of a layer version's policy by id (empty when it has none)."""
    with aws_errors(f"reading the policy of version {version} of layer {layer_name!r}"):
        try:
            response = lambda_.get_layer_version_policy(LayerName=layer_name, VersionNumber=version)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return {}
            raise
    statements = json.loads(response.get("Policy") or "{}").get("Statement", [])
    return {str(s.get("Sid")): s for s in statements}


def is_granted(grant: Grant, statements: dict[str, dict[str, Any]]) -> bool:
    """Whether the policy ``statements`` (by Sid) already hold ``grant``."""
    statement = statements.get(grant.statement_id)
    return statement is not None and grant.matches(statement)


def share_version(
    lambda_: Any, layer_name: str, version: int, arn: str, grants: Sequence[Grant]
) -> tuple[GrantResult, ...]:
    """Grant ``lambda:GetLayerVersion`` on one version; grants already there are left alone."""
    if not grants:
        return ()
    existing = policy_statements(lambda_, layer_name, version)
    results = []
    for grant in grants:
        if is_granted(grant, existing):
            results.append(GrantResult(grant, arn, added=False))
            continue
        what = f"granting {grant.description} access to {arn}"
        with aws_errors(what):
            if grant.statement_id in existing:
                # Same id, other content (edited by hand): replace it with ours.
                lambda_.remove_layer_version_permission(
                    LayerName=layer_name, VersionNumber=version, StatementId=grant.statement_id
                )
            kwargs: dict[str, Any] = {
                "LayerName": layer_name,
                "VersionNumber": version,
                "StatementId": grant.statement_id,
                "Action": ACTION,
                "Principal": grant.principal,
            }
            if grant.organization_id:
                kwargs["OrganizationId"] = grant.organization_id
            lambda_.add_layer_version_permission(**kwargs)
        logger.info("granted %s access to %s", grant.description, arn)
        results.append(GrantResult(grant, arn, added=True))
    return tuple(results)
