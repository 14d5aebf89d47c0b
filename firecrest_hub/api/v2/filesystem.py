"""filesystem ops: v2's immediate file operations on `{system_name}`, as the caller's own account.

Each calls the same FileOperations method as its v1 utilities twin; only the wire differs: paths as the
`path` query parameter (GET, DELETE, upload) or a JSON body whose path is `path`, `sourcePath` or
`source_path` (v2 accepts all three), answers as `{"output": ...}` in v2's models (File, FileContent,
FileChecksum, FileStat), 201 for mkdir and symlink, 204 for rm, upload, compress and extract. Paths must be
absolute and inside the system's filesystems (no relative paths: v2 has none). Failures are v2's errors
(base.py): 404 for a missing path, 403 for a refusal, 408 for a timeout, 413 for sizes.

Deliberate differences from v2: compress makes gzip archives only and without matchPattern (anything
else is a 400, not silently ignored); extract reads gzip, bzip2 or uncompressed tar archives; chmod, chown,
mkdir and symlink describe the path with one more SFTP request after the change.
"""

from __future__ import annotations

from tornado.web import stream_request_body

from ...errors import FileTooLarge, InvalidInput
from ...filesystem import FileOperations, PathPolicy
from ..small_files import FORM_OVERHEAD, CappedMultipartBody, send_file
from .base import V2Handler, field, flag

_PATH_FIELDS = ("path", "sourcePath", "source_path")
_MAX_COUNT = 10**12
# v2's compression names and the archive kind our extraction reads them as.
EXTRACT_AS = {"gzip": ".tgz", "bzip2": ".bz2", "none": ".tar"}


def file_json(entry: dict) -> dict:
    """A v1 ls entry (the layer's) as v2's File."""
    return {"name": entry["name"], "type": entry["type"], "linkTarget": entry["link_target"] or None,
            "user": entry["user"], "group": entry["group"], "permissions": entry["permissions"],
            "lastModified": entry["last_modified"], "size": entry["size"]}


class FilesystemHandler(V2Handler):
    async def prepare(self):
        await super().prepare()
        system = self.system_named(self.path_args[0])
        self.paths = PathPolicy(system.filesystems)
        self.files = FileOperations(await self.session(system), max_file_size=self.service.max_file_size,
                                    max_entries=self.service.max_listing_entries)

    def query_path(self, name: str = "path") -> str:
        return self.paths.check(self.query(name, required=True), name)

    def body_path(self, body: dict, *names: str) -> str:
        names = names or _PATH_FIELDS
        return self.paths.check(field(body, *names, required=True), names[0])

    def output(self, value, status: int = 200) -> None:
        self.write_json({"output": value}, status)

    async def described(self, path: str) -> dict:
        return file_json(await self.files.describe(path))


class ListHandler(FilesystemHandler):
    async def get(self, _system):
        entries = await self.files.list_directory(
            self.query_path(), show_hidden=self.query_flag("showHidden"), numeric_ids=self.query_flag("numericUid"),
            recursive=self.query_flag("recursive"), dereference=self.query_flag("dereference"))
        self.output([file_json(entry) for entry in entries])


class FilePartHandler(FilesystemHandler):
    """head and tail: `bytes` or `lines` (10 lines by default), `skipTrailing` or `skipHeading` turning the
    count around as the tools do."""

    tool = ""
    skip_parameter = ""

    async def get(self, _system):
        path = self.query_path()
        size, lines = self.query_number("bytes", 0, _MAX_COUNT), self.query_number("lines", 0, _MAX_COUNT)
        if size is not None and lines is not None:
            raise InvalidInput("Only one of `bytes` or `lines` can be specified.")
        skip = self.query_flag(self.skip_parameter)
        count = size if size is not None else lines
        options = {"bytes": None if size is None else str(size), "lines": None if lines is None else str(lines)}
        read = self.files.head if self.tool == "head" else self.files.tail
        skip_option = "skip_ending" if self.tool == "head" else "skip_beginning"
        content = await read(path, **options, **{skip_option: skip})
        self.output({"content": content, "contentType": "bytes" if size is not None else "lines",
                     **self.positions(10 if count is None else count, skip)})

    def positions(self, count: int, skip: bool) -> dict:
        raise NotImplementedError


class HeadHandler(FilePartHandler):
    tool, skip_parameter = "head", "skipTrailing"

    def positions(self, count: int, skip: bool) -> dict:
        return {"startPosition": 0, "endPosition": -count if skip else count}


class TailHandler(FilePartHandler):
    tool, skip_parameter = "tail", "skipHeading"

    def positions(self, count: int, skip: bool) -> dict:
        return {"startPosition": count if skip else -count, "endPosition": -1}


class ViewHandler(FilesystemHandler):
    async def get(self, _system):
        path = self.query_path()
        limit = self.service.max_file_size
        size = self.query_number("size", 1, limit)
        offset = self.query_number("offset", 0, 2**63 - 1) or 0
        self.output(await self.files.view(path, offset=offset, size=size))


class ChecksumHandler(FilesystemHandler):
    async def get(self, _system):
        self.output({"algorithm": "SHA256", "checksum": await self.files.checksum(self.query_path())})


class FileTypeHandler(FilesystemHandler):
    async def get(self, _system):
        self.output(await self.files.file_type(self.query_path()))


class StatHandler(FilesystemHandler):
    async def get(self, _system):
        self.output(await self.files.stat(self.query_path(), self.query_flag("dereference")))


class MkdirHandler(FilesystemHandler):
    async def post(self, _system):
        body = self.json_body()
        path = self.body_path(body)
        await self.files.mkdir(path, parents=flag("parent", body.get("parent")))
        self.output(await self.described(path), 201)


class ChmodHandler(FilesystemHandler):
    async def put(self, _system):
        body = self.json_body()
        path = self.body_path(body)
        await self.files.chmod(path, field(body, "mode", required=True))
        self.output(await self.described(path))


class ChownHandler(FilesystemHandler):
    async def put(self, _system):
        body = self.json_body()
        path = self.body_path(body)
        await self.files.chown(path, field(body, "owner") or None, field(body, "group") or None)
        self.output(await self.described(path))


class SymlinkHandler(FilesystemHandler):
    async def post(self, _system):
        body = self.json_body()
        target, link = self.body_path(body), self.body_path(body, "linkPath", "link_path")
        await self.files.symlink(target, link)
        self.output(await self.described(link), 201)


class RemoveHandler(FilesystemHandler):
    async def delete(self, _system):
        await self.files.remove(self.paths.check_removable(self.query("path", required=True), "path"))
        self.no_content()


class DownloadHandler(FilesystemHandler):
    async def get(self, _system):
        await send_file(self, self.files, self.query_path())


@stream_request_body
class UploadHandler(CappedMultipartBody, FilesystemHandler):
    """The `path` query parameter names a directory; the multipart `file` is stored there under its name."""

    async def prepare(self):
        await super().prepare()
        self.start_body(self.service.max_file_size + FORM_OVERHEAD)

    async def post(self, _system):
        if self.over_limit:
            raise FileTooLarge(f"File to upload is too large: more than the {self.service.max_file_size} bytes "
                               "this service carries; use transfer/upload")
        directory = self.query_path()
        _, files = self.form()
        if not files.get("file"):
            raise InvalidInput("the form has no 'file' part")
        upload = files["file"][-1]
        await self.files.upload(self.paths.join(directory, upload.filename), upload.body)
        self.no_content()


class CompressHandler(FilesystemHandler):
    async def post(self, _system):
        body = self.json_body()
        source, target = self.body_path(body), self.body_path(body, "targetPath", "target_path")
        check_compression(body)
        await self.files.compress(source, target, flag("dereference", body.get("dereference")))
        self.no_content()


def check_compression(body: dict) -> None:
    """What compress makes here: gzip archives of whole files and directories."""
    if (field(body, "compression") or "gzip") != "gzip":
        raise InvalidInput("compression: only gzip archives are made here")
    if field(body, "matchPattern", "match_pattern"):
        raise InvalidInput("matchPattern is not supported here: compress a directory of the files instead")


class ExtractHandler(FilesystemHandler):
    async def post(self, _system):
        body = self.json_body()
        source, target = self.body_path(body), self.body_path(body, "targetPath", "target_path")
        compression = field(body, "compression") or "gzip"
        if compression not in EXTRACT_AS:
            raise InvalidInput(f"compression must be one of {', '.join(EXTRACT_AS)}, not {compression!a}")
        await self.files.extract(source, target, EXTRACT_AS[compression])
        self.no_content()


_OPS = r"/filesystem/([^/]+)/ops"
routes = [
    (_OPS + r"/ls", ListHandler),
    (_OPS + r"/head", HeadHandler),
    (_OPS + r"/tail", TailHandler),
    (_OPS + r"/view", ViewHandler),
    (_OPS + r"/checksum", ChecksumHandler),
    (_OPS + r"/file", FileTypeHandler),
    (_OPS + r"/stat", StatHandler),
    (_OPS + r"/mkdir", MkdirHandler),
    (_OPS + r"/chmod", ChmodHandler),
    (_OPS + r"/chown", ChownHandler),
    (_OPS + r"/symlink", SymlinkHandler),
    (_OPS + r"/rm", RemoveHandler),
    (_OPS + r"/download", DownloadHandler),
    (_OPS + r"/upload", UploadHandler),
    (_OPS + r"/compress", CompressHandler),
    (_OPS + r"/extract", ExtractHandler),
]
