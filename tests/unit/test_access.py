"""Token verification (services/reporting/access.py): HS256 with a secret, RS256/ES256 from
an OIDC provider's JWKS served over real HTTP, the provider rotating its keys; claims."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.reporting.access import Scope, TokenVerifier, Unauthorized, Viewer
from services.reporting.errors import Forbidden
from tests.gateway import SECRET, token

ISSUER = "https://idp.example.test/realms/finance"


class Provider:
    """A JWKS endpoint whose keys can be rotated; counts its fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> (private key, public JWK)
        self.published: set[str] = set()
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                jwks = [provider.keys[kid][1] for kid in sorted(provider.published)]
                body = json.dumps({"keys": jwks}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, kid: str, kind: str = "RS256") -> None:
        if kind == "RS256":
            private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        else:
            private = ec.generate_private_key(ec.SECP256R1())
            jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
        self.keys[kid] = (private, {**jwk, "kid": kid, "use": "sig", "alg": kind})
        self.published.add(kid)

    def sign(self, kid: str, **claims: Any) -> str:
        private, jwk = self.keys[kid]
        payload = {"sub": "evaluator-1", "departments": ["GD-GRID"], "roles": ["evaluator"],
                   "iss": ISSUER, "aud": "ledger", "exp": int(time.time()) + 600}  # fmt: skip
        payload |= claims
        return jwt.encode(payload, private, algorithm=jwk["alg"], headers={"kid": kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    provider = Provider()
    yield provider
    provider.server.shutdown()


async def test_keys_of_the_providers_jwks_are_fetched_once_and_again_after_rotation(
    provider: Provider,
) -> None:
    provider.add("k1")
    provider.add("e1", "ES256")
    verifier = TokenVerifier(jwks_url=provider.url, issuer=ISSUER, audience="ledger",
                             jwks_cooldown=0)  # fmt: skip
    viewer = await verifier.verify(provider.sign("k1"))
    assert viewer == Viewer("evaluator-1", frozenset({"GD-GRID"}), frozenset({"evaluator"}))
    assert (await verifier.verify(provider.sign("e1"))).subject == "evaluator-1"
    await verifier.verify(provider.sign("k1"))
    assert provider.fetches == 1  # cached

    provider.published.remove("k1")
    provider.add("k2")  # the provider rotates: a token of the new key comes in
    assert (await verifier.verify(provider.sign("k2"))).subject == "evaluator-1"
    assert provider.fetches == 2
    with pytest.raises(Unauthorized, match="k1"):  # the retired key no longer verifies
        await verifier.verify(provider.sign("k1", sub="late"))

    with pytest.raises(Unauthorized, match="(?i)audience"):
        await verifier.verify(provider.sign("k2", aud="another-client"))
    with pytest.raises(Unauthorized, match="(?i)issuer"):
        await verifier.verify(provider.sign("k2", iss="https://elsewhere.test"))


async def test_unknown_kids_do_not_make_the_gateway_hammer_the_provider(
    provider: Provider,
) -> None:
    provider.add("k1")
    verifier = TokenVerifier(jwks_url=provider.url, jwks_cooldown=60)
    await verifier.verify(provider.sign("k1"))
    bogus = provider.sign("k1").split(".")
    header = jwt.utils.base64url_encode(json.dumps({"alg": "RS256", "kid": "nope"}).encode())
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await verifier.verify(".".join([header.decode(), *bogus[1:]]))
    assert provider.fetches == 1


async def test_hs256_tokens_and_their_claims() -> None:
    verifier = TokenVerifier(secret=SECRET)
    viewer = await verifier.verify(token(["GD-CGJ"], ["evaluator", "auditor"]))
    assert viewer.departments == {"GD-CGJ"} and viewer.roles == {"evaluator", "auditor"}
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(token(exp=int(time.time()) - 1))
    with pytest.raises(Unauthorized, match="unknown"):
        await verifier.verify(token(roles=["admin"]))
    with pytest.raises(Unauthorized, match="departments must be an array of strings"):
        await verifier.verify(token(departments="GD-CGJ"))  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="no bearer token"):
        await verifier.verify(None)
    with pytest.raises(Unauthorized, match="not accepted"):  # an RS256 token, no JWKS set
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        await verifier.verify(jwt.encode({"exp": time.time() + 60}, rsa_key, algorithm="RS256"))
    with pytest.raises(ValueError, match="AUTH_JWT_SECRET"):
        TokenVerifier()


def test_a_scope_covers_what_it_names_and_refuses_the_rest() -> None:
    scope = Scope(frozenset({"GD-CGJ", "GD-SGB"}))
    assert scope.visible(["GD-SGB", "GD-GRID", "GD-CGJ"]) == ["GD-SGB", "GD-CGJ"]
    with pytest.raises(Forbidden, match="'GD-GRID' is outside"):
        scope.require("GD-GRID")
    with pytest.raises(Forbidden, match="all departments"):
        scope.require("*")
    Scope(None).require("*")
    with pytest.raises(Forbidden, match="auditor"):
        Viewer("x", frozenset({"*"}), frozenset({"evaluator"})).require_role(
            frozenset({"auditor"}), "operatorActions"
        )
