"""filesystem transfer: v2's long file operations on `{system_name}`, each a Slurm job of the caller's own
that the client watches, answered with v2's `transferJob` (jobId, system, workingDirectory, logs).

cp, mv, rm, compress and extract are v1's internal transfers (xfer-internal tasks on the transfer
partition, transfers.Transfer), so the portal shows them among the transfers; their output ends with v2's
"Files were successfully ..." once the operation succeeded, which pyfirecrest looks for. rm is a DELETE with
the `path` query parameter, answered 200 as by v2; the others are POSTs of a JSON body, answered 201.

upload and download are v1's staging (Staging.start_upload / start_download), with the transfer on the
system as a job the client watches:
- upload: `path` (the file to write) and `transferDirectives` {transferMethod "s3", fileSize}. The answer
  gives `partsUploadUrls` (a presigned PUT per part of `maxPartSize` bytes) and `completeUploadUrl`, to
  which the client POSTs S3's CompleteMultipartUpload XML. That URL is this service's (signed for this
  one upload, so it needs no token), because the job fetches each part as soon as it is in the store:
  the completion checks every part's size and ETag, and then the file is checked and moved into place.
- download: `path` and `transferDirectives` {transferMethod "s3"}; the answer's `downloadUrl` works once
  the job has ended.
Either job ends only once the transfer is complete, its output saying "File was successfully ...".
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import xml.etree.ElementTree as ElementTree
from urllib.parse import urlencode

from jupyterhub.utils import url_path_join

from ...errors import CommandTimeout, InvalidInput, IsADirectory, SubmissionRejected
from ...filesystem.commands import Compress, Copy, Extract, FileCommand, Move, RemoveTree
from ...jobs import TRANSFER
from ...jobs.submission import submission_directory
from ...numbers import whole_number
from ...staging import files
from ...staging.batch import JobLogs
from ...staging.objectstore import MAX_OBJECT_SIZE
from ...tasks import Task
from ...transfers import SCRIPT_NAME, Transfer
from ..base import APIError
from .base import V2PublicHandler, field, flag
from .filesystem import EXTRACT_AS, FilesystemHandler, check_compression

# The largest completion body taken: S3 allows 10,000 parts of about 100 bytes of XML each.
_MAX_COMPLETION_BYTES = 2 * 1024 * 1024
_S3_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def transfer_job(jobid, system: str, working_directory: str, output: str, error: str) -> dict:
    return {"transferJob": {"jobId": str(jobid), "system": system, "workingDirectory": working_directory,
                            "logs": {"outputLog": output, "errorLog": error}}}


class TransferHandler(FilesystemHandler):
    """A job of the caller's, charged to the body's (or query's) `account` where given."""

    async def logs(self) -> JobLogs:
        """The logs of a new transfer job, in a new directory of the caller's own (its working directory)."""
        directory = await submission_directory(self.files.session, self.service.job_tasks.script_directory)
        return JobLogs(posixpath.join(directory, "transfer.out"), posixpath.join(directory, "transfer.err"))

    def account(self, body: dict | None) -> str | None:
        return field(body, "account") if body is not None else self.query("account")


class InternalTransferHandler(TransferHandler):
    """v1's internal transfer of `operation`, submitted before the answer."""

    operation = ""
    status = 201

    async def submit(self, command: FileCommand, source: str, account: str | None) -> None:
        """Submit the transfer job of `command` once its paths lead inside the filesystems and its
        `source` is there for the caller: a missing or forbidden one is a 404 or 403, not a failed job."""
        await self.files.resolver.check_command(command)
        await self.files.stat(source)
        transfer = Transfer(self.operation, command, account=account)
        job_tasks = self.service.job_tasks
        # v2 answers with the job: wait for the submission as long as sbatch may take.
        wait = job_tasks.scheduler.command_timeout + 5
        session = self.files.session
        task = await job_tasks.submit_script(self.username, session, SCRIPT_NAME,
                                             transfer.request(session.system.transfer_partition), kind=TRANSFER,
                                             wait=wait, summary=transfer.summary())
        result = await self.submitted(task, wait)
        working_directory = posixpath.dirname(result["job_file"])
        self.write_json(transfer_job(result["jobid"], session.system.name, working_directory,
                                     result["job_file_out"], result["job_file_err"]), self.status)

    async def submitted(self, task: Task, waited: float) -> dict:
        current = await self.service.tasks.store.get(self.username, task.id)
        if current is None or not current.finished:
            raise CommandTimeout(f"the transfer job was not submitted within {waited:g} s; it goes on as task "
                                 f"{task.id}")
        if not isinstance(current.data, dict) or "jobid" not in current.data:
            raise SubmissionRejected(str(current.data))
        return current.data


class BodyTransferHandler(InternalTransferHandler):
    """cp, mv, compress, extract: a POST of the operation's JSON body."""

    def command(self, body: dict) -> FileCommand:
        raise NotImplementedError

    async def post(self, _system):
        body = self.json_body()
        command = self.command(body)
        await self.submit(command, command.source, self.account(body))


class CopyHandler(BodyTransferHandler):
    operation = "cp"

    def command(self, body):
        return Copy(self.body_path(body), self.body_path(body, "targetPath", "target_path"),
                    flag("dereference", body.get("dereference")))


class MoveHandler(BodyTransferHandler):
    operation = "mv"

    def command(self, body):
        source = self.paths.check_removable(field(body, "path", "sourcePath", "source_path", required=True), "path")
        return Move(source, self.body_path(body, "targetPath", "target_path"))


class CompressHandler(BodyTransferHandler):
    operation = "compress"

    def command(self, body):
        check_compression(body)
        return Compress(self.body_path(body), self.body_path(body, "targetPath", "target_path"),
                        flag("dereference", body.get("dereference")))


class ExtractHandler(BodyTransferHandler):
    operation = "extract"

    def command(self, body):
        compression = field(body, "compression") or "gzip"
        if compression not in EXTRACT_AS:
            raise InvalidInput(f"compression must be one of {', '.join(EXTRACT_AS)}, not {compression!a}")
        return Extract(self.body_path(body), self.body_path(body, "targetPath", "target_path"),
                       EXTRACT_AS[compression])


class RemoveHandler(InternalTransferHandler):
    operation = "rm"
    status = 200

    async def delete(self, _system):
        path = self.paths.check_removable(self.query("path", required=True), "path")
        await self.submit(RemoveTree(path), path, self.account(None))


def transfer_method(body: dict) -> dict:
    """The body's `transferDirectives` (or `transfer_directives`), which must ask for S3."""
    directives = body.get("transferDirectives", body.get("transfer_directives"))
    if not isinstance(directives, dict):
        raise InvalidInput("transferDirectives is required: {\"transferMethod\": \"s3\", ...}")
    method = field(directives, "transferMethod", "transfer_method", required=True)
    if method != "s3":
        raise InvalidInput(f"Requested transfer method is not available: {method!a}; this service stages "
                           "through S3 (\"s3\")")
    return directives


class UploadHandler(TransferHandler):
    async def post(self, system_name):
        body = self.json_body()
        directives = transfer_method(body)
        size = directives.get("fileSize", directives.get("file_size"))
        if size is None:
            raise InvalidInput("transferDirectives.fileSize is required: the size of the file in bytes")
        size = whole_number("fileSize (bytes, up to 5 TiB)", str(size), 0, MAX_OBJECT_SIZE)
        path = self.body_path(body)
        if await files.upload_target(self.files.session, self.paths, path, posixpath.basename(path)) != path:
            raise IsADirectory(f"{path!a} is a directory: name the file to write")
        target = path
        account = self.account(body)
        logs = await self.logs()
        staging = self.service.staging
        task = await staging.start_upload(self.username, system_name, posixpath.basename(target), target, size,
                                          multipart_paths={}, logs=logs, account=account)
        part_size, urls = await staging.all_part_urls(task)
        answer = transfer_job(task.params["jobid"], system_name, posixpath.dirname(logs.output), logs.output,
                              logs.error)
        answer["transferDirectives"] = {"transferMethod": "s3", "partsUploadUrls": urls, "maxPartSize": part_size,
                                        "completeUploadUrl": self.completion_url(system_name, task)}
        self.write_json(answer, 201)

    def completion_url(self, system_name: str, task: Task) -> str:
        request = self.request
        path = url_path_join(self.service.base_url, "api/v2/filesystem", system_name, "transfer/upload/complete")
        signature = completion_signature(self.hub_auth.api_token, task.user, task.id)
        query = urlencode({"user": task.user, "uploadId": task.id, "signature": signature})
        return f"{request.protocol}://{request.host}{path}?{query}"


def completion_signature(key: str, user: str, task_id: str) -> str:
    """What proves a completion URL was given for `user`'s upload `task_id`: it carries no other power."""
    return hmac.new(key.encode(), f"upload-completion\0{user}\0{task_id}".encode(), hashlib.sha256).hexdigest()


class UploadCompletionHandler(V2PublicHandler):
    """The client's POST of S3's CompleteMultipartUpload XML to a `completeUploadUrl`: no token, the URL's
    signature names the upload and its owner."""

    def check_xsrf_cookie(self):
        pass  # no cookie is a credential here: the URL's signature is

    async def post(self, _system):
        user, task_id = self.query("user", required=True), self.query("uploadId", required=True)
        signature = self.query("signature", required=True)
        if not hmac.compare_digest(completion_signature(self.hub_auth.api_token, user, task_id), signature):
            raise APIError(403, "this completion URL is not valid")
        task = await self.service.tasks.store.get(user, task_id)
        if task is None:
            raise APIError(404, "the upload of this completion URL is gone")
        if len(self.request.body) > _MAX_COMPLETION_BYTES:
            raise InvalidInput("the completion body is too large")
        await self.service.staging.complete_upload(task, completed_parts(self.request.body))
        self.set_header("Content-Type", "application/xml")
        self.finish(f"<CompleteMultipartUploadResult xmlns=\"{_S3_NAMESPACE[1:-1]}\"><Key>"
                    f"{posixpath.basename(task.params['target'])}</Key></CompleteMultipartUploadResult>")


def completed_parts(body: bytes) -> dict[int, str]:
    """part number -> ETag, from S3's CompleteMultipartUpload XML (with or without its namespace)."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise InvalidInput("the completion must not declare a document type or entities")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise InvalidInput("the completion is not S3's CompleteMultipartUpload XML") from None
    parts: dict[int, str] = {}
    for part in root.iter():
        if part.tag.removeprefix(_S3_NAMESPACE) != "Part":
            continue
        values = {child.tag.removeprefix(_S3_NAMESPACE): (child.text or "").strip() for child in part}
        number, etag = values.get("PartNumber", ""), values.get("ETag", "")
        if not number.isdigit() or not etag or int(number) in parts:
            raise InvalidInput("each Part of the completion needs its own PartNumber and an ETag")
        parts[int(number)] = etag
    if not parts:
        raise InvalidInput("the completion lists no parts")
    return parts


class DownloadHandler(TransferHandler):
    async def post(self, system_name):
        body = self.json_body()
        transfer_method(body)
        source = self.body_path(body)
        size = await files.download_source(self.files.session, source)
        logs = await self.logs()
        staging = self.service.staging
        task = await staging.start_download(self.username, system_name, source, size, logs=logs,
                                            account=self.account(body))
        answer = transfer_job(task.params["jobid"], system_name, posixpath.dirname(logs.output), logs.output,
                              logs.error)
        answer["transferDirectives"] = {"transferMethod": "s3", "downloadUrl": await staging.download_url(task)}
        self.write_json(answer, 201)


_TRANSFER = r"/filesystem/([^/]+)/transfer"
routes = [
    (_TRANSFER + r"/upload", UploadHandler),
    (_TRANSFER + r"/upload/complete", UploadCompletionHandler),
    (_TRANSFER + r"/download", DownloadHandler),
    (_TRANSFER + r"/cp", CopyHandler),
    (_TRANSFER + r"/mv", MoveHandler),
    (_TRANSFER + r"/rm", RemoveHandler),
    (_TRANSFER + r"/compress", CompressHandler),
    (_TRANSFER + r"/extract", ExtractHandler),
]
