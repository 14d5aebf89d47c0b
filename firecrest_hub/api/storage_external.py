"""storage/xfer-external: v1's staged uploads and downloads through the object store, and our multipart
extension for uploads larger than one PUT can carry.

v1 (pyfirecrest's external_upload / external_download / invalidate):
    POST upload      sourcePath (the client's local path), targetPath -> 201 task (110 .. 114 / 115)
    POST download    sourcePath                                      -> 201 task (116 .. 117 / 118)
    POST invalidate  header X-Task-Id                                -> 201; the staged object is deleted

Extension: `upload` also takes `size` (bytes) and `sha256` (hex); the file's sha256 is then checked on
the system. A size above ObjectStore.multipart_threshold makes it a multipart upload, whose task's
`data.msg.multipart` says how many parts of which size; then
    GET  upload/parts     header X-Task-Id, query first (default 1), count (default 100, at most 1000)
                          -> 200 {part_count, part_size, method, parts: [{part_number, offset, size, url}]}
    POST upload/complete  header X-Task-Id -> 200 once every part is uploaded; the task carries on.

A task id of another user answers 404, exactly like an unknown one.
"""

from __future__ import annotations

import re

from ..errors import InvalidInput
from ..filesystem.paths import CONTROL_CHARACTERS, MAX_PATH_LENGTH
from ..staging import files
from ..staging.objectstore import MAX_OBJECT_SIZE
from ..numbers import whole_number
from .base import APIError, APIHandler
from .utilities import UtilitiesHandler

# The multipart extension's paths, which an upload in parts names in its task data (`data.msg.multipart`).
PARTS_PATH = "/storage/xfer-external/upload/parts"
COMPLETE_PATH = "/storage/xfer-external/upload/complete"
_TASK_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_MAX_PARTS_PER_PAGE = 1000


def client_file_name(source: str | None) -> str:
    """The file name at the end of the client's own path (POSIX or Windows style)."""
    if not source:
        raise InvalidInput("sourcePath is missing")
    if CONTROL_CHARACTERS.search(source) or len(source) > MAX_PATH_LENGTH:
        raise InvalidInput("sourcePath must be one line of at most 4095 characters")
    name = re.split(r"[/\\]", source)[-1]
    if not name:
        raise InvalidInput(f"sourcePath {source!a} does not end in a file name")
    return name


class ExternalUploadHandler(UtilitiesHandler):
    async def post(self):
        system = self.system()
        source = self.argument("sourcePath")
        name = client_file_name(source)
        target = await files.upload_target(self.files.session, self.paths, self.path("targetPath"), name)
        staging = self.service.staging
        task = await staging.start_upload(
            self.username, system.name, source, target, size=self._size(), sha256=self._sha256(),
            multipart_paths={"parts": PARTS_PATH, "complete": COMPLETE_PATH}, wait=staging.answer_wait)
        self.write_json(task.creation_json(), 201)

    def _size(self) -> int | None:
        value = self.argument("size")
        if value is None:
            return None
        return whole_number("size (bytes, up to 5 TiB)", value, 0, MAX_OBJECT_SIZE)

    def _sha256(self) -> str | None:
        value = self.argument("sha256")
        if value is None:
            return None
        if not _SHA256.match(value):
            raise InvalidInput("sha256 must be 64 hexadecimal digits")
        return value.lower()


class ExternalDownloadHandler(UtilitiesHandler):
    async def post(self):
        system = self.system()
        source = self.path("sourcePath")
        size = await files.download_source(self.files.session, source)
        staging = self.service.staging
        task = await staging.start_download(self.username, system.name, source, size, wait=staging.answer_wait)
        self.write_json(task.creation_json(), 201)


class StagingTaskHandler(APIHandler):
    """Acts on one of the caller's staging tasks, named by the X-Task-Id header."""

    async def task(self):
        task_id = self.request.headers.get("X-Task-Id")
        if not task_id:
            raise APIError(400, "no task named: set the X-Task-Id header", error="Task id missing")
        task = await self.service.tasks.store.get(self.username, task_id) if _TASK_ID.match(task_id) else None
        if task is None:
            raise APIError(404, f"Task {task_id} does not exist", error="Task does not exist")
        return task

    def number(self, name: str, default: int, highest: int) -> int:
        value = self.get_query_argument(name, None)
        return default if value is None else whole_number(name, value, 1, highest)


class InvalidateHandler(StagingTaskHandler):
    async def post(self):
        await self.service.staging.invalidate(await self.task())
        self.write_json({"success": "URL invalidated successfully"}, 201)


class UploadPartsHandler(StagingTaskHandler):
    async def get(self):
        task = await self.task()
        first = self.number("first", 1, 10_000)
        count = self.number("count", 100, _MAX_PARTS_PER_PAGE)
        self.write_json(await self.service.staging.part_urls(task, first, count))


class UploadCompleteHandler(StagingTaskHandler):
    async def post(self):
        await self.service.staging.complete_upload(await self.task())
        self.write_json({"success": "Upload completed; the transfer to the system follows"})


routes = [
    (r"/storage/xfer-external/upload", ExternalUploadHandler),
    (PARTS_PATH, UploadPartsHandler),
    (COMPLETE_PATH, UploadCompleteHandler),
    (r"/storage/xfer-external/download", ExternalDownloadHandler),
    (r"/storage/xfer-external/invalidate", InvalidateHandler),
]
