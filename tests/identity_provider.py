"""An OpenID Connect issuer for the tests: a discovery document and a JWKS served over
real HTTP, and tokens signed with keys made here (RSA and EC P-256). Keys can be added
while it runs (rotation); ``stranger`` signs with a key the JWKS never lists."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.local_http import serving

AUDIENCE = "transmute"


def _private(algorithm: str) -> Any:
    if algorithm.startswith("ES"):
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_jwk(kid: str, algorithm: str, key: Any) -> dict[str, Any]:
    maker = ECAlgorithm if algorithm.startswith("ES") else RSAAlgorithm
    jwk: dict[str, Any] = json.loads(maker.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}


@dataclass
class IdentityProvider:
    url: str = ""
    keys: dict[str, tuple[str, Any]] = field(default_factory=dict)  # kid -> (alg, key)
    jwks_requests: int = 0

    def add_key(self, kid: str, algorithm: str = "RS256") -> None:
        self.keys[kid] = (algorithm, _private(algorithm))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_public_jwk(kid, alg, key) for kid, (alg, key) in self.keys.items()]}

    def token(
        self,
        kid: str = "rsa-1",
        tenant: str | None = "acme",
        role: str | None = "user",
        audience: str = AUDIENCE,
        lifetime: int = 300,
        key: Any = None,
        **claims: Any,
    ) -> str:
        algorithm, own = self.keys[kid]
        body: dict[str, Any] = {
            "iss": self.url,
            "aud": audience,
            "sub": "someone",
            "exp": int(time.time()) + lifetime,
            **claims,
        }
        if tenant is not None:
            body["tenant"] = tenant
        if role is not None:
            body["role"] = role
        return jwt.encode(body, key or own, algorithm=algorithm, headers={"kid": kid})

    def stranger(self, kid: str = "rsa-1") -> str:
        """Signed by a key of the same type that the JWKS does not hold, under a listed kid."""
        return self.token(kid, key=_private(self.keys[kid][0]))


def unsigned(**claims: Any) -> str:
    """A token with ``alg: none``."""
    return jwt.encode(claims, None, algorithm="none")


@contextmanager
def identity_provider() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.add_key("rsa-1", "RS256")
    provider.add_key("ec-1", "ES256")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": provider.url, "jwks_uri": f"{provider.url}/jwks"}
            elif self.path == "/jwks":
                provider.jwks_requests += 1
                body = provider.jwks()
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        provider.url = url
        yield provider
