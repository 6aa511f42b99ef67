"""A minimal OpenID Connect provider on 127.0.0.1 for the sign-in tests: discovery,
authorize (consents at once for one configured person), token (an RS256-signed id_token
made with joserfc), userinfo and JWKS. Real HTTP, real signatures; nothing leaves the host."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class Provider:
    client_id: str = "ailab-test"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    claims: dict[str, Any] = field(default_factory=dict)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    published: RSAKey | None = None  # the key the JWKS shows; None: the signing key
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        payload = {
            "iss": self.url, "aud": self.client_id, "iat": now, "exp": now + 300,
            **self.claims,
        }  # fmt: skip
        if nonce:
            payload["nonce"] = nonce
        return jwt.encode({"alg": "RS256", "kid": "k1"}, payload, self.key)


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _json(self, body: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            base = provider.url
            if parts.path == "/.well-known/openid-configuration":
                self._json({
                    "issuer": base, "authorization_endpoint": f"{base}/authorize",
                    "token_endpoint": f"{base}/token", "userinfo_endpoint": f"{base}/userinfo",
                    "jwks_uri": f"{base}/jwks", "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                })  # fmt: skip
            elif parts.path == "/jwks":
                shown = provider.published or provider.key
                self._json({"keys": [shown.as_dict(private=False)]})
            elif parts.path == "/authorize":
                if query.get("client_id") != provider.client_id:
                    self._json({"error": "invalid_client"}, 400)
                    return
                code = secrets.token_urlsafe(16)
                provider.codes[code] = {"nonce": query.get("nonce")}
                back = {"code": code, "state": query.get("state", "")}
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{urlencode(back)}")
                self.end_headers()
            elif parts.path == "/userinfo":
                self._json(provider.claims)
            else:
                self._json({"error": "not_found"}, 404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            import base64

            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            else:
                cid, secret = form.get("client_id", ""), form.get("client_secret", "")
            grant = provider.codes.pop(form.get("code", ""), None)
            if cid != provider.client_id or secret != provider.client_secret or grant is None:
                self._json({"error": "invalid_grant"}, 400)
                return
            self._json({
                "access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                "expires_in": 300, "id_token": provider.id_token(grant["nonce"]),
            })  # fmt: skip

    return Handler


def serve(provider: Provider) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
