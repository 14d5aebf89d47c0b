"""Small files through the service itself, for v1's and v2's handlers: the file sent as the download's body
(`send_file`), and an upload's multipart/form-data body held in memory, capped before and while it is read
(`CappedMultipartBody`: v1's utilities/upload and compute/jobs/upload, v2's ops/upload).

A body over the cap (by its Content-Length, or as it grows) is read to its end and dropped as it arrives,
never stored; the handler then answers 413. Answering before the body ends would be cheaper, but the
hub's proxy turns such a reply into a 503 for clients that send the whole body first, as requests (and so
pyfirecrest) and httpx do. Use with tornado's @stream_request_body.
"""

from __future__ import annotations

import sys
from urllib.parse import quote

from tornado import httputil

from ..errors import InvalidInput
from ..numbers import parse_whole_number

# Room for the form fields and part headers around an uploaded file's bytes.
FORM_OVERHEAD = 64 * 1024


class CappedMultipartBody:
    """Mixin of a RequestHandler: call `start_body(limit)` in prepare(), check `over_limit`, read `form()`."""

    def start_body(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.received = 0
        declared = parse_whole_number(self.request.headers.get("Content-Length"))
        if declared is not None and declared > self.limit:
            self.received = declared  # over the cap before a byte arrived: nothing will be kept
        # Tornado would cut a body over its own limit (100 MB) off without an answer; this one is dropped.
        self.request.connection.set_max_body_size(sys.maxsize)

    @property
    def over_limit(self) -> bool:
        return self.received > self.limit

    def data_received(self, chunk: bytes) -> None:
        if self.received > self.limit:
            return
        self.received += len(chunk)
        if self.received <= self.limit:
            self.chunks.append(chunk)
        else:
            self.chunks.clear()

    def form(self) -> tuple[dict[str, list[bytes]], dict[str, list[httputil.HTTPFile]]]:
        """The fields and files of the received multipart body (which is let go of here)."""
        fields: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        try:
            httputil.parse_body_arguments(self.request.headers.get("Content-Type", ""), b"".join(self.chunks),
                                          fields, files, self.request.headers)
        except httputil.HTTPInputError as error:  # e.g. a control character in a part's header
            raise InvalidInput(f"the form is not valid multipart/form-data: {error}") from None
        finally:
            self.chunks.clear()
        return fields, files


async def send_file(handler, files, path: str) -> None:
    """Answer `handler`'s request with the file at `path` (FileOperations' limits), streamed as it is read."""
    async with files.open_for_reading(path) as reader:
        handler.set_header("Content-Type", "application/octet-stream")
        handler.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(path.rsplit('/', 1)[1])}")
        async for chunk in reader.chunks():
            handler.write(chunk)
            await handler.flush()
    handler.finish()
