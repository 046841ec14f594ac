"""Bearer tokens for the HTTP API: issued per organisation and role, stored only as SHA-256.

Inputs: an organisation code and a role (CLI), or a presented bearer token (HTTP). Outputs: a
new token shown once, a revocation, or the ``Caller`` a token belongs to. Guarantee: the
token itself is never stored or logged; revoked tokens stop working at once. Tokens may also
come from settings (``SAFEGUARD_API_TOKENS``: their SHA-256 with organisation and role).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from sinks.models import ApiToken
from streams.settings import Settings

ROLES = ("view_only", "view_and_notify", "school", "operator", "record_viewer")
TOKEN_PREFIX = "sgt_"


@dataclass(frozen=True)
class Caller:
    organisation_code: str
    role: str
    token_id: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(engine: Engine, organisation_code: str, role: str, now: datetime) -> tuple[str, str]:
    """Create a token; returns (token_id, token). The token is shown once and not kept."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not organisation_code.strip():
        raise ValueError("organisation code is required")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    hashed = digest(token)
    with Session(engine) as session:
        session.add(ApiToken(token_id=hashed[:12], token_sha256=hashed, organisation_code=organisation_code.strip(),
                             role=role, issued_at=now))
        session.commit()
    return hashed[:12], token


def revoke(engine: Engine, token_id_or_token: str, now: datetime) -> int:
    """Revoke by token id or by the token itself; returns how many were revoked."""
    key = token_id_or_token.strip()
    with Session(engine) as session:
        rows = session.exec(select(ApiToken).where(
            (ApiToken.token_id == key) | (ApiToken.token_sha256 == digest(key)), ApiToken.revoked_at == None)).all()  # noqa: E711
        for row in rows:
            row.revoked_at = now
            session.add(row)
        session.commit()
    return len(rows)


def authenticate(engine: Engine, settings: Settings, authorization: str | None) -> Caller | None:
    """The caller behind an ``Authorization: Bearer …`` header, or ``None``."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    hashed = digest(authorization.removeprefix("Bearer ").strip())
    for configured in settings.api_tokens:
        if hmac.compare_digest(configured.token_sha256, hashed):
            return Caller(configured.organisation_code, configured.role, hashed[:12])
    with Session(engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_sha256 == hashed, ApiToken.revoked_at == None)).first()  # noqa: E711
    return Caller(row.organisation_code, row.role, row.token_id) if row else None
