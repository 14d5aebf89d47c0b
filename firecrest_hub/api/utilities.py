"""utilities: FirecREST v1's file endpoints, run as the caller's own account on the X-Machine-Name system.

Responses have v1's shape, `{"description": ..., "output": ...}`, with 200, or 201 for what creates
something, or 204 for rm; failures are the API's JSON errors with v1's X-* headers (base.ERROR_STATUS).
Parameters come from the query string for GET and from the form body (urlencoded or multipart, as
pyfirecrest sends them) otherwise. Every path passes the system's PathPolicy before anything runs.

Where this differs from v1, on purpose: the status codes of the shared error mapping (408 for timeouts,
413 for sizes, where v1 said 400; the X-* headers are v1's; permission denied is v1's 400); head and tail over
the size cap are refused instead of cut short; a page past the end of a listing is empty instead of the
whole listing; an upload replaces its target all at once (a new file, not v1's rewrite in place); grep
filters head/tail lines in the service instead of in a shell pipe.
"""

from __future__ import annotations

from tornado.web import stream_request_body

from ..errors import FileTooLarge, InvalidInput
from ..filesystem import FileOperations, PathPolicy
from ..numbers import whole_number
from ..remote import home_if_relative, relative_to
from .base import APIHandler
from .small_files import FORM_OVERHEAD, CappedMultipartBody, send_file

_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0", "")
_MAX_PAGE = 1_000_000
_PATH_PARAMETERS = ("targetPath", "sourcePath")


class UtilitiesHandler(APIHandler):
    async def prepare(self):
        await super().prepare()
        system = self.system()
        self.paths = PathPolicy(system.filesystems)
        session = await self.session(system)
        self.files = FileOperations(
            session,
            max_file_size=self.service.max_file_size,
            max_entries=self.service.max_listing_entries,
        )
        # v1 ran its commands in the home directory, so a relative path starts there: one SFTP request,
        # made only when a path is relative.
        self.home = await home_if_relative(session, map(self.argument, _PATH_PARAMETERS))

    def path(self, name: str) -> str:
        return self.paths.check(relative_to(self.home, self.argument(name)), name)

    def flag(self, name: str, *, present: bool = False) -> bool:
        """A boolean parameter; `present` makes an empty value true (v1's mkdir `p`)."""
        value = self.argument(name)
        if value is None:
            return False
        if value == "" and present:
            return True
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise InvalidInput(f"{name} must be true or false, not {value!a}")

    def page(self, name: str) -> int | None:
        value = self.argument(name)
        if value is None:
            return None
        return whole_number(name, value, 1, _MAX_PAGE)

    def done(self, description: str, output="", status: int = 200) -> None:
        self.write_json({"description": description, "output": output}, status)


class ListHandler(UtilitiesHandler):
    async def get(self):
        path = self.path("targetPath")
        page_size, page_number = self.page("pageSize"), self.page("pageNumber")
        entries = await self.files.list_directory(
            path, show_hidden=self.flag("showhidden"), numeric_ids=self.flag("numericUid"),
            recursive=self.flag("recursive"))
        if page_size and page_number:
            entries = entries[(page_number - 1) * page_size:page_number * page_size]
        self.done("List of contents", entries)


class FileTypeHandler(UtilitiesHandler):
    async def get(self):
        self.done("Success to file file.", await self.files.file_type(self.path("targetPath")))


class StatHandler(UtilitiesHandler):
    async def get(self):
        path = self.path("targetPath")
        self.done("Success to stat file.", await self.files.stat(path, self.flag("dereference")))


class HeadHandler(UtilitiesHandler):
    async def get(self):
        path = self.path("targetPath")
        output = await self.files.head(path, lines=self.argument("lines"), bytes=self.argument("bytes"),
                                       skip_ending=self.flag("skip_ending"), grep=self.argument("grep"))
        self.done("Success to head file.", output)


class TailHandler(UtilitiesHandler):
    async def get(self):
        path = self.path("targetPath")
        output = await self.files.tail(path, lines=self.argument("lines"), bytes=self.argument("bytes"),
                                       skip_beginning=self.flag("skip_beginning"), grep=self.argument("grep"))
        self.done("Success to tail file.", output)


class ViewHandler(UtilitiesHandler):
    async def get(self):
        self.done("Success to head file.", await self.files.view(self.path("targetPath")))


class ChecksumHandler(UtilitiesHandler):
    async def get(self):
        self.done("Success to checksum file.", await self.files.checksum(self.path("targetPath")))


class WhoamiHandler(UtilitiesHandler):
    async def get(self):
        self.done("User information", await self.files.whoami(self.flag("groups")))


class DownloadHandler(UtilitiesHandler):
    async def get(self):
        await send_file(self, self.files, self.path("sourcePath"))


@stream_request_body
class UploadHandler(CappedMultipartBody, UtilitiesHandler):
    """multipart/form-data with `targetPath` (a directory) and `file` (stored there under its file name),
    capped at max_file_size (see small_files.py)."""

    async def prepare(self):
        await super().prepare()
        self.start_body(self.service.max_file_size + FORM_OVERHEAD)

    async def post(self):
        if self.over_limit:
            raise FileTooLarge(
                f"the upload is larger than the {self.service.max_file_size} bytes this service carries; "
                "use staging")
        arguments, files = self.form()
        try:
            target = arguments.get("targetPath", [b""])[-1].decode()
        except UnicodeDecodeError:
            raise InvalidInput("targetPath is not valid UTF-8") from None
        directory = self.paths.check(target, "targetPath")
        if not files.get("file"):
            raise InvalidInput("the form has no 'file' part")
        upload = files["file"][-1]
        await self.files.upload(self.paths.join(directory, upload.filename), upload.body)
        self.done("File upload successful", status=201)


class MkdirHandler(UtilitiesHandler):
    async def post(self):
        await self.files.mkdir(self.path("targetPath"), parents=self.flag("p", present=True))
        self.done("Success to mkdir file.", status=201)


class RenameHandler(UtilitiesHandler):
    async def put(self):
        source = self.paths.check_removable(self.argument("sourcePath"), "sourcePath")
        await self.files.rename(source, self.path("targetPath"))
        self.done("Success to rename file.")


class CopyHandler(UtilitiesHandler):
    async def post(self):
        await self.files.copy(self.path("sourcePath"), self.path("targetPath"))
        self.done("Success to copy file.", status=201)


class ChmodHandler(UtilitiesHandler):
    async def put(self):
        path = self.path("targetPath")
        self.done("Success to chmod file or directory.", await self.files.chmod(path, self.argument("mode")))


class ChownHandler(UtilitiesHandler):
    async def put(self):
        path = self.path("targetPath")
        output = await self.files.chown(path, self.argument("owner"), self.argument("group"))
        self.done("Success to chown file or directory.", output)


class SymlinkHandler(UtilitiesHandler):
    async def post(self):
        await self.files.symlink(self.path("targetPath"), self.path("linkPath"))
        self.done("Success to symlink file.", status=201)


class RemoveHandler(UtilitiesHandler):
    async def delete(self):
        await self.files.remove(self.paths.check_removable(self.argument("targetPath"), "targetPath"))
        self.set_status(204)
        self.finish()


class CompressHandler(UtilitiesHandler):
    async def post(self):
        source, target = self.path("sourcePath"), self.path("targetPath")
        await self.files.compress(source, target, self.flag("dereference"))
        self.done("Success to compress file.", status=201)


class ExtractHandler(UtilitiesHandler):
    async def post(self):
        source, target = self.path("sourcePath"), self.path("targetPath")
        await self.files.extract(source, target, self.argument("extension"))
        self.done("Success to extract file.", status=201)


routes = [
    (r"/utilities/ls", ListHandler),
    (r"/utilities/file", FileTypeHandler),
    (r"/utilities/stat", StatHandler),
    (r"/utilities/head", HeadHandler),
    (r"/utilities/tail", TailHandler),
    (r"/utilities/view", ViewHandler),
    (r"/utilities/checksum", ChecksumHandler),
    (r"/utilities/whoami", WhoamiHandler),
    (r"/utilities/download", DownloadHandler),
    (r"/utilities/upload", UploadHandler),
    (r"/utilities/mkdir", MkdirHandler),
    (r"/utilities/rename", RenameHandler),
    (r"/utilities/copy", CopyHandler),
    (r"/utilities/chmod", ChmodHandler),
    (r"/utilities/chown", ChownHandler),
    (r"/utilities/symlink", SymlinkHandler),
    (r"/utilities/rm", RemoveHandler),
    (r"/utilities/compress", CompressHandler),
    (r"/utilities/extract", ExtractHandler),
]
