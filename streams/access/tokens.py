"""Bearer tokens for the HTTP API: issued per organisation and role, stored only as SHA-256.

Inputs: an organisation code and a role (CLI), or a presented bearer token (HTTP). Outputs: a
new token shown once, a revocation, or the ``Caller`` a token belongs to. Guarantee: the
token itself is never stored or logged; issued tokens expire (90 days unless told otherwise); revoked
tokens, issued or configured, stop working at once. Tokens may also come from settings
(``SAFEGUARD_API_TOKENS``: their SHA-256 with organisation and role).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

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


DEFAULT_LIFETIME = timedelta(days=90)


def issue(engine: Engine, organisation_code: str, role: str, now: datetime,
          lifetime: timedelta = DEFAULT_LIFETIME) -> tuple[str, str]:
    """Create a token valid for ``lifetime``; returns (token_id, token). The token is shown once and not kept."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not organisation_code.strip():
        raise ValueError("organisation code is required")
    if lifetime <= timedelta(0):
        raise ValueError("expires: the lifetime must be positive")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    hashed = digest(token)
    with Session(engine) as session:
        session.add(ApiToken(token_id=hashed[:12], token_sha256=hashed, organisation_code=organisation_code.strip(),
                             role=role, issued_at=now, expires_at=now + lifetime))
        session.commit()
    return hashed[:12], token


def revoke(engine: Engine, settings: Settings, token_id_or_token: str, now: datetime) -> int:
    """Revoke by token id or by the token itself, issued or configured; returns how many were revoked.
    A configured token is revoked by a row that outlives the configuration: it stays refused."""
    key = token_id_or_token.strip()
    with Session(engine) as session:
        rows = session.exec(select(ApiToken).where(
            (ApiToken.token_id == key) | (ApiToken.token_sha256 == digest(key)), ApiToken.revoked_at == None)).all()  # noqa: E711
        for row in rows:
            row.revoked_at = now
            session.add(row)
        configured = [c for c in settings.api_tokens if key in (c.token_sha256[:12], c.token_sha256) or
                      hmac.compare_digest(c.token_sha256, digest(key))]
        known = {row.token_sha256 for row in session.exec(select(ApiToken).where(
            ApiToken.token_sha256.in_([c.token_sha256 for c in configured])))} if configured else set()  # type: ignore[attr-defined]
        for token in configured:
            if token.token_sha256 not in known:
                session.add(ApiToken(token_id=token.token_sha256[:12], token_sha256=token.token_sha256,
                                     organisation_code=token.organisation_code, role=token.role, issued_at=now, revoked_at=now))
        session.commit()
    return len(rows) + len([c for c in configured if c.token_sha256 not in known])


def authenticate(engine: Engine, settings: Settings, authorization: str | None, now: datetime) -> Caller | None:
    """The caller behind an ``Authorization: Bearer …`` header, or ``None``."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    return authenticate_digest(engine, settings, digest(authorization.removeprefix("Bearer ").strip()), now)


def authenticate_digest(engine: Engine, settings: Settings, hashed: str, now: datetime) -> Caller | None:
    """The caller whose token has this SHA-256, unless it is revoked or expired (a dashboard session re-checks
    its token this way on every request, so revoking the token ends the session)."""
    with Session(engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_sha256 == hashed)).first()
    if row is not None and row.revoked_at is not None:
        return None
    for configured in settings.api_tokens:
        if hmac.compare_digest(configured.token_sha256, hashed):
            return Caller(configured.organisation_code, configured.role, hashed[:12])
    if row is None or (row.expires_at is not None and _aware(row.expires_at) <= now):
        return None
    return Caller(row.organisation_code, row.role, row.token_id)


def parse_lifetime(text: str) -> timedelta:
    """``90d``, ``12h`` or ``30m``: how long an issued token is valid."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise ValueError(f"expires: {text!r} is not a lifetime like 90d, 12h or 30m")
    return timedelta(**{units[unit]: int(number)})


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
