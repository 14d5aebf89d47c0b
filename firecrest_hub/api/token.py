"""An OAuth2 token endpoint for clients that log in with client credentials (RFC 6749, section 4.4), as
FirecREST's clients do against its identity provider: aiida-firecrest, pyfirecrest's
ClientCredentialsAuth, the FirecREST web UI and other gateways.

    POST <service>/oauth2/token   grant_type=client_credentials, client_id=<hub user>, client_secret=<hub token>
                                  (form fields, or HTTP Basic) -> {"access_token", "token_type", "expires_in"}

Here the client's secret is a hub API token of the user named as the client: the answer is that same
token, once the hub confirms it is the user's and admits them to this service. Nothing is minted, so
nothing more can be done with the answer than with the secret; the token is checked again on every API
request, so `expires_in` only tells the client when to come back and have it confirmed again.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import unquote

from .base import HubUserHandler

# How long the client may use the token before asking again (the hub's own expiry still applies).
CONFIRMED_FOR = 300


class TokenHandler(HubUserHandler):
    def check_xsrf_cookie(self):
        pass  # no cookie is a credential here: the client's secret is

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-store")

    async def post(self):
        if self.get_body_argument("grant_type", None) != "client_credentials":
            return self.refuse(400, "unsupported_grant_type", "only the client_credentials grant is offered")
        client_id, secret = self.client_credentials()
        if not client_id or not secret:
            return self.refuse(401, "invalid_client", "send client_id and client_secret (a hub API token)")
        model = await self.ask_hub(self.hub_auth.user_for_token(secret, sync=False))
        if not model or model.get("kind", "user") != "user" or model.get("name") != client_id:
            return self.refuse(401, "invalid_client", "the secret is not a valid hub token of this client")
        self.admitted(model)  # 403 for a user the service does not admit
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"access_token": secret, "token_type": "Bearer", "expires_in": CONFIRMED_FOR}))

    def client_credentials(self) -> tuple[str | None, str | None]:
        """From the form (client_secret_post) or the Authorization header (client_secret_basic)."""
        header = self.request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            return unquote(client_id), unquote(secret)
        return self.get_body_argument("client_id", None), self.get_body_argument("client_secret", None)

    def refuse(self, status: int, error: str, description: str) -> None:
        self.set_status(status)
        if status == 401:
            self.set_header("WWW-Authenticate", 'Basic realm="firecrest"')
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": error, "error_description": description}))

    def write_error(self, status_code: int, **kwargs) -> None:
        failure = kwargs.get("exc_info", (None, None, None))[1]
        description = getattr(failure, "description", None) or self._reason
        self.refuse(status_code, "access_denied" if status_code == 403 else "temporarily_unavailable"
                    if status_code == 503 else "invalid_request", description)
