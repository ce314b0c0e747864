"""Who asks (docs/contract.md section 6): bearer tokens verified, and what a token may see.

A token is a JWT signed with HS256 (``AUTH_JWT_SECRET``) or RS256/ES256 by a key of an OIDC
provider's JWKS (``AUTH_JWKS_URL``, cached, fetched again when a token names an unknown
``kid``). ``exp`` is required; ``iss`` and ``aud`` are checked when configured. Its claims
``departments`` (codes; a code covers its subunits at any depth; ``"*"`` all) and ``roles``
(``evaluator``, ``auditor``, ``operator``) make the ``Viewer`` a request runs as.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from services.reporting.errors import Forbidden

ALL = "*"
ROLES = frozenset({"evaluator", "auditor", "operator"})
READERS = frozenset({"evaluator", "auditor"})  # may read evaluations
COOKIE = "ledger_token"
SECRET_ALGORITHMS = ["HS256"]
KEY_ALGORITHMS = ["RS256", "ES256"]


class Unauthorized(Exception):
    """No token, or one that does not verify: HTTP 401."""


@dataclass(frozen=True)
class Viewer:
    """The bearer of a verified token."""

    subject: str
    departments: frozenset[str]
    roles: frozenset[str]

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Viewer:
        departments = _strings(claims, "departments")
        roles = _strings(claims, "roles")
        if unknown := roles - ROLES:
            raise Unauthorized(f"claim roles: unknown {sorted(unknown)}; known {sorted(ROLES)}")
        return cls(str(claims.get("sub") or ""), departments, roles)

    @property
    def sees_all(self) -> bool:
        return ALL in self.departments

    def require_role(self, allowed: frozenset[str], what: str) -> None:
        if not self.roles & allowed:
            raise Forbidden(f"{what} needs the role {' or '.join(sorted(allowed))}")


def _strings(claims: dict[str, Any], name: str) -> frozenset[str]:
    value = claims.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Unauthorized(f"claim {name} must be an array of strings")
    return frozenset(value)


@dataclass(frozen=True)
class Scope:
    """The departments a viewer may see: those its token names and every unit under them
    (``None``: all)."""

    codes: frozenset[str] | None

    def sees(self, code: str) -> bool:
        return self.codes is None or code in self.codes

    def require(self, code: str) -> None:
        """``ALL``: every department (a token with ``"*"``)."""
        if code == ALL and self.codes is not None:
            raise Forbidden('this needs a token covering all departments ("*")')
        if not self.sees(code):
            raise Forbidden(f"department {code!r} is outside the token's departments")

    def visible(self, codes: Iterable[str]) -> list[str]:
        return [code for code in codes if self.sees(code)]


class TokenVerifier:
    """Verifies bearer tokens against a shared secret and/or an OIDC provider's JWKS."""

    def __init__(
        self,
        secret: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        jwks_cooldown: float = 30,
    ) -> None:
        if not secret and not jwks_url:
            raise ValueError("set AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL (RS256/ES256)")
        self.secret, self.issuer, self.audience = secret, issuer, audience
        self.jwks = (
            PyJWKClient(jwks_url, cache_jwk_set=True, cooldown_duration=jwks_cooldown)
            if jwks_url
            else None
        )

    async def verify(self, token: str | None) -> Viewer:
        if not token:
            raise Unauthorized("no bearer token (Authorization header or ledger_token cookie)")
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if self.secret and algorithm in SECRET_ALGORITHMS:
                key: Any = self.secret
            elif self.jwks and algorithm in KEY_ALGORITHMS:
                key = await self._signing_key(str(header.get("kid") or ""))
            else:
                raise Unauthorized(f"token algorithm {algorithm!r} is not accepted here")
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        return Viewer.from_claims(claims)

    async def _signing_key(self, kid: str) -> PyJWK:
        assert self.jwks is not None
        cached = self.jwks.jwk_set_cache.get() if self.jwks.jwk_set_cache else None
        if cached is not None:
            for key in cached.keys:
                if key.key_id == kid and key.public_key_use in (None, "sig"):
                    return key
        # unknown kid or stale cache: fetch the set again (urllib, so off the event loop)
        return await asyncio.to_thread(self.jwks.get_signing_key, kid)


def issue_token(
    secret: str,
    subject: str,
    departments: list[str],
    roles: list[str],
    lifetime: float = 30 * 86400,
    **claims: Any,
) -> str:
    """An HS256 token, as `make run` and the tests hand out (a deployment's tokens come from
    its identity provider)."""
    now = int(time.time())
    payload = {"sub": subject, "departments": departments, "roles": roles, "iat": now}
    payload |= {"exp": now + int(lifetime), **claims}
    return jwt.encode(payload, secret, algorithm="HS256")
