"""What the service writes to its log: never a credential.

Requests are logged as tornado logs them, but with the values of query parameters that carry
credentials masked (JupyterHub still accepts `?token=`), in the access log and in tornado's warnings. Libraries that log signatures or signed URLs at
debug level (botocore signs every presigned URL) stay at INFO even when the service runs at DEBUG.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tornado.log import access_log
from tornado.web import RequestHandler

CREDENTIAL_PARAMETERS = {"token", "access_token", "code", "state", "x-amz-signature", "x-amz-credential",
                         "x-amz-security-token", "signature"}
_CHATTY_WITH_CREDENTIALS = ("botocore", "aiobotocore", "urllib3", "s3transfer")


def without_credentials(uri: str) -> str:
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    query = [(name, "[hidden]" if name.lower() in CREDENTIAL_PARAMETERS else value)
             for name, value in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def log_request(handler: RequestHandler) -> None:
    """tornado's access log line, credentials masked (the `log_function` of the web application)."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if not access_log.isEnabledFor(level):
        return  # parsing the URI to mask it is most of this function's cost, for a line not written
    request = handler.request
    access_log.log(level, "%d %s %s (%s) %.2fms", status, request.method, without_credentials(request.uri),
                   request.remote_ip, 1000.0 * request.request_time())


class MaskedRequestSummary:
    """Mixed into request handlers: tornado's own warning and error lines about a request (a refused OAuth
    callback, an uncaught error) name its URI with the credentials masked, as the access log does."""

    def _request_summary(self) -> str:
        request = self.request
        return f"{request.method} {without_credentials(request.uri)} ({request.remote_ip})"


def keep_credentials_out_of_debug_logs() -> None:
    for name in _CHATTY_WITH_CREDENTIALS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))
