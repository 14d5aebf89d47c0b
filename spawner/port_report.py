"""The notebook job tells the hub its port: `POST /hub/api/batchspawner` with `{"port": N}`.

batchspawner registers a handler at that path when it is imported, and that handler sets *every*
attribute named in the JSON body on the spawner whose token sent it. The token is inside the user's
job (`$JUPYTERHUB_API_TOKEN`), so a user could set `exec_prefix` or any other attribute of their
spawner. `install()` puts `PortReportHandler` in its place, before the hub builds its routes (the hub
imports its spawner class first). It accepts exactly one key, an integer port, only with the token of
the server that is starting, and only while that server waits for its port. The host is never taken
from the job: the spawner reads the node from Slurm.
"""

from __future__ import annotations

import hmac
import json

import batchspawner.api  # noqa: F401 - registers the handler replaced below
from jupyterhub import apihandlers
from jupyterhub.apihandlers import APIHandler
from jupyterhub.user import User
from tornado import web

PATTERN = r"/api/batchspawner"


class PortRefused(Exception):
    """The spawner does not take a port now (not starting, or the port is already known)."""


def parse_port_report(body) -> int:
    """The port of a report body, which must be exactly {"port": <integer 1-65535>}."""
    if not isinstance(body, dict) or set(body) != {"port"}:
        keys = ", ".join(sorted(map(str, body))) if isinstance(body, dict) else type(body).__name__
        raise ValueError(f'a port report is exactly {{"port": <integer>}}; got {keys or "nothing"}')
    port = body["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an integer between 1 and 65535, not {port!r}")
    return port


class PortReportHandler(APIHandler):
    async def post(self):
        token = self.get_auth_token()
        user = self.current_user
        if token is None or not isinstance(user, User):
            raise web.HTTPError(403, "a port report needs the token of the notebook server that sends it")
        spawner = next((spawner for spawner in user.spawners.values()
                        if spawner.api_token and hmac.compare_digest(spawner.api_token, token)), None)
        if spawner is None:
            raise web.HTTPError(403, f"this token belongs to none of {user.name}'s servers")
        try:
            port = parse_port_report(self.get_json_body())
        except ValueError as error:
            raise web.HTTPError(400, str(error)) from None
        receive_port = getattr(spawner, "receive_port", None)
        if receive_port is None:
            raise web.HTTPError(400, f"the spawner of {spawner._log_name} takes no port reports")
        try:
            receive_port(port)
        except PortRefused as error:
            raise web.HTTPError(409, str(error)) from None
        self.log.info("Server %s reported port %s", spawner._log_name, port)
        self.set_status(201)
        self.finish(json.dumps({"message": f"port {port} of {spawner._log_name} received"}))


def install() -> None:
    """Put PortReportHandler in place of batchspawner's handler in the hub's API routes."""
    handlers = apihandlers.default_handlers
    handlers[:] = [route for route in handlers if route[0] != PATTERN]
    handlers.append((PATTERN, PortReportHandler))
