"""The S3 object store that stages large transfers: keys, presigned URLs, multipart uploads, lifecycle.

It speaks plain S3 through aiobotocore (SigV4, path-style addressing), so SeaweedFS, Ceph RGW, MinIO and
AWS work alike. The service holds the only credentials; nobody else reads or writes the bucket except
through a presigned URL, and the service issues those only to the owner of the task an object belongs
to. Keys carry 128 random bits besides the owner's name, so they are neither guessable nor shared:

    {direction}/{user}/{token}/{file name}      direction: "upload" (client -> system) or "download"

except that an upload in parts writes each part as an object of its own, so that the system fetches the
parts while the client still uploads the rest, and marks its completion with an empty object:

    upload/{user}/{token}/part-00001 ...  upload/{user}/{token}/completed

An upload that has ended leaves the empty mark `upload/{user}/{token}.ended` beside its folder until every
URL of it has expired: what a client still sends with such a URL is swept (S3 cannot revoke a presigned
URL).

One bucket holds every user's objects under their own prefix (a bucket per user would run into the
bucket limits of real stores, e.g. AWS's per-account quota). A lifecycle rule on the bucket expires
objects and abandoned multipart uploads after `expiry_days`, whatever happens to the service; the
workflows delete each object as soon as its transfer is done.

The client is made once, the bucket checked (and created, with its lifecycle rule) on first use, so the
service starts and serves everything else while the store is away.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError
from traitlets import Float, Integer, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from ..errors import DependencyUnavailable, NotFound

log = logging.getLogger(__name__)

MiB = 1024 * 1024
GiB = 1024 * MiB
# S3's limits: one PUT carries at most 5 GiB; a multipart upload has at most 10,000 parts, each but the
# last at least 5 MiB; an object is at most 5 TiB; a SigV4 presigned URL lives at most 7 days.
MAX_SINGLE_PUT = 5 * GiB
MAX_PARTS = 10_000
MIN_PART_SIZE = 5 * MiB
MAX_OBJECT_SIZE = 5 * 1024 * GiB
MAX_URL_LIFETIME = 7 * 24 * 3600

ENDED_SUFFIX = ".ended"
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING = {"404", "NoSuchKey", "NotFound"}
_GONE_UPLOAD = {"NoSuchUpload"}


class ObjectStoreUnavailable(DependencyUnavailable):
    """The object store does not answer or refuses the service; the API reports it as 503."""


@dataclass(frozen=True)
class Part:
    """One part of a multipart object: its number (from 1), where it starts in the file, its size."""

    number: int
    offset: int
    size: int


def plan_parts(size: int, part_size: int) -> list[Part]:
    """The parts of an object of `size` bytes: `part_size` each (grown where needed to stay within
    S3's 10,000 parts, in whole MiB), the last one the remainder."""
    if size > MAX_OBJECT_SIZE:
        raise ValueError(f"{size} bytes is more than an S3 object can hold")
    part_size = max(part_size, math.ceil(size / MAX_PARTS / MiB) * MiB)
    count = max(1, math.ceil(size / part_size))
    return [Part(n + 1, n * part_size, min(part_size, size - n * part_size)) for n in range(count)]


class ObjectStore(Configurable):
    """The staging bucket on an S3 endpoint, as the service's one S3 identity."""

    endpoint_url = Unicode(
        "",
        help="""URL of the S3 endpoint the service and the systems' login nodes use, e.g.
        `https://s3.example.org` or `http://127.0.0.1:8333`. Empty turns staging off (its endpoints then
        answer 503).""",
    ).tag(config=True)

    public_endpoint_url = Unicode(
        "",
        help="""URL of the same S3 endpoint as clients outside the centre reach it, if it differs from
        `endpoint_url` (presigned URLs name their host, so each side gets URLs for its own route).
        Empty: `endpoint_url`.""",
    ).tag(config=True)

    access_key = Unicode(help="S3 access key of the service. Default: $AWS_ACCESS_KEY_ID.").tag(config=True)

    @default("access_key")
    def _default_access_key(self):
        return os.environ.get("AWS_ACCESS_KEY_ID", "")

    secret_key = Unicode(help="S3 secret key of the service. Default: $AWS_SECRET_ACCESS_KEY.").tag(config=True)

    @default("secret_key")
    def _default_secret_key(self):
        return os.environ.get("AWS_SECRET_ACCESS_KEY", "")

    region = Unicode("us-east-1", help="S3 region name (part of every SigV4 signature).").tag(config=True)

    bucket = Unicode(
        "firecrest-staging",
        help="""Bucket that holds every staged object, under a prefix per user. Created on first use if
        missing, with a lifecycle rule expiring objects after `expiry_days`.""",
    ).tag(config=True)

    url_lifetime = Integer(
        3600,
        help="""Seconds a presigned URL handed to a client stays valid: the time a client has to start
        its upload, or to fetch a staged download (at most 7 days, S3's limit).""",
    ).tag(config=True)

    part_size = Integer(
        64 * MiB,
        help="""Smallest part of a transfer in parts (at least 5 MiB, S3's minimum). Bigger files get
        bigger parts, about eight for each of Staging.parallel_streams (every part costs requests of its
        own), and never more than 10,000.""",
    ).tag(config=True)

    multipart_threshold = Integer(
        1 * GiB,
        help="""Files larger than this move in parts (at most 5 GiB, the largest single PUT): uploads
        whose client announces the size, and every download.""",
    ).tag(config=True)

    expiry_days = Integer(
        1,
        help="""Days after which the bucket's lifecycle rule deletes a staged object or an abandoned
        multipart upload, should its transfer never clean it up.""",
    ).tag(config=True)

    connect_timeout = Float(5, help="Seconds to connect to the S3 endpoint.").tag(config=True)
    request_timeout = Float(30, help="Seconds one S3 request of the service may take.").tag(config=True)

    @validate("endpoint_url", "public_endpoint_url")
    def _validate_url(self, proposal):
        value = proposal["value"].rstrip("/")
        if value and not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise TraitError(f"ObjectStore.{proposal['trait'].name} must be an http(s) URL, not {value!r}")
        return value

    @validate("bucket")
    def _validate_bucket(self, proposal):
        if not _BUCKET_NAME.match(proposal["value"]) or ".." in proposal["value"]:
            raise TraitError(f"ObjectStore.bucket {proposal['value']!r} is not a valid S3 bucket name")
        return proposal["value"]

    @validate("url_lifetime")
    def _validate_lifetime(self, proposal):
        if not 60 <= proposal["value"] <= MAX_URL_LIFETIME:
            raise TraitError(f"ObjectStore.url_lifetime must be from 60 to {MAX_URL_LIFETIME} seconds")
        return proposal["value"]

    @validate("part_size")
    def _validate_part_size(self, proposal):
        if not MIN_PART_SIZE <= proposal["value"] <= MAX_SINGLE_PUT:
            raise TraitError("ObjectStore.part_size must be from 5 MiB to 5 GiB")
        return proposal["value"]

    @validate("multipart_threshold")
    def _validate_threshold(self, proposal):
        if not 0 < proposal["value"] <= MAX_SINGLE_PUT:
            raise TraitError("ObjectStore.multipart_threshold must be positive and at most 5 GiB")
        return proposal["value"]

    @validate("expiry_days")
    def _validate_expiry(self, proposal):
        if proposal["value"] < 1:
            raise TraitError("ObjectStore.expiry_days must be at least 1")
        return proposal["value"]

    @validate("connect_timeout", "request_timeout")
    def _validate_timeout(self, proposal):
        if proposal["value"] <= 0:
            raise TraitError(f"ObjectStore.{proposal['trait'].name} must be positive")
        return proposal["value"]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._client = None
        self._public_client = None
        self._contexts: list = []
        self._bucket_ready = False
        self._bucket_lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.endpoint_url)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Make the clients (no request is sent: the store may be away while the service starts)."""
        if not self.configured or self._client is not None:
            return
        session = get_session()
        config = AioConfig(
            signature_version="s3v4", s3={"addressing_style": "path"}, connect_timeout=self.connect_timeout,
            read_timeout=self.request_timeout, retries={"max_attempts": 2, "mode": "standard"},
        )
        for endpoint in dict.fromkeys([self.endpoint_url, self.public_endpoint_url or self.endpoint_url]):
            context = session.create_client(
                "s3", endpoint_url=endpoint, region_name=self.region, aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key, config=config)
            client = await context.__aenter__()
            self._contexts.append(context)
            if self._client is None:
                self._client = client
            self._public_client = client

    async def close(self) -> None:
        contexts, self._contexts = self._contexts, []
        self._client = self._public_client = None
        for context in contexts:
            await context.__aexit__(None, None, None)

    # -- keys and URLs -----------------------------------------------------------------------------

    @staticmethod
    def new_key(direction: str, user: str, name: str) -> str:
        """A fresh, unguessable key for `user`'s file `name` moving in `direction`."""
        return f"{direction}/{quote(user, safe='')}/{secrets.token_hex(16)}/{name}"

    @staticmethod
    def folder(key: str) -> str:
        """The prefix of everything staged for the transfer of `key`."""
        return key.rsplit("/", 1)[0] + "/"

    @classmethod
    def part_key(cls, key: str, number: int) -> str:
        return f"{cls.folder(key)}part-{number:05d}"

    @classmethod
    def completion_key(cls, key: str) -> str:
        return f"{cls.folder(key)}completed"

    @classmethod
    def ended_key(cls, key: str) -> str:
        """The mark of an ended transfer, beside its folder (inside, it could be a file's own name)."""
        return cls.folder(key).rstrip("/") + ENDED_SUFFIX

    @staticmethod
    def ended_folder(mark: str) -> str | None:
        """The folder a mark of `ended_key` stands for; None for any other key."""
        if mark.count("/") != 2 or not mark.endswith(ENDED_SUFFIX):
            return None
        return mark.removesuffix(ENDED_SUFFIX) + "/"

    def lifetime(self, seconds: float | None = None) -> int:
        """A URL lifetime: `seconds` (default url_lifetime), within S3's limits."""
        return int(min(max(seconds or self.url_lifetime, 1), MAX_URL_LIFETIME))

    async def put_url(self, key: str, *, lifetime: float | None = None, public: bool = False,
                      size: int | None = None) -> str:
        """A presigned PUT; with `size`, its Content-Length is part of the signature, so the URL carries
        exactly that many bytes and nothing else."""
        return await self._presign("put_object", {"Key": key, **_length(size)}, lifetime, public)

    async def post_form(self, key: str, *, lifetime: float | None = None, public: bool = False,
                        size: int | None = None) -> tuple[str, dict[str, str]]:
        """A presigned POST form (v1's upload form for S3v4 stores): its URL and the fields to send with
        the file. Its policy allows exactly `size` bytes when given, else at most what one PUT carries."""
        length = [size, size] if size is not None else [0, MAX_SINGLE_PUT]
        form = await self._signer(public).generate_presigned_post(
            Bucket=self.bucket, Key=key, Conditions=[["content-length-range", *length]],
            ExpiresIn=self.lifetime(lifetime))
        return form["url"], form["fields"]

    async def get_url(self, key: str, *, lifetime: float | None = None, public: bool = False,
                      filename: str | None = None) -> str:
        params = {"Key": key}
        if filename:
            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return await self._presign("get_object", params, lifetime, public)

    async def part_url(self, key: str, upload_id: str, number: int, *, lifetime: float | None = None,
                       public: bool = False, size: int | None = None) -> str:
        params = {"Key": key, "UploadId": upload_id, "PartNumber": number, **_length(size)}
        return await self._presign("upload_part", params, lifetime, public)

    async def _presign(self, operation: str, params: dict, lifetime: float | None, public: bool) -> str:
        return await self._signer(public).generate_presigned_url(
            operation, Params={"Bucket": self.bucket, **params}, ExpiresIn=self.lifetime(lifetime))

    def _signer(self, public: bool):
        """The client whose endpoint the URL names: the one clients outside reach, or the systems' one."""
        client = self._public_client if public else self._client
        if client is None:
            raise ObjectStoreUnavailable("staging is not configured on this service (ObjectStore.endpoint_url)")
        return client

    # -- objects -----------------------------------------------------------------------------------

    async def size(self, key: str) -> int | None:
        """The size of the object at `key`, or None while there is none."""
        try:
            response = await self._call("head_object", Key=key)
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise self._unavailable(error) from None
        return response["ContentLength"]

    async def delete(self, key: str) -> None:
        """Remove the object (deleting a missing object is no error in S3)."""
        await self._checked("delete_object", Key=key)

    async def mark(self, key: str) -> None:
        """Write an empty object at `key`: a flag that every replica of the service sees."""
        await self._checked("put_object", Key=key, Body=b"")

    async def delete_all(self, prefix: str) -> None:
        """Remove every object under `prefix`, a thousand per request."""
        keys = [key for key, _, _ in await self.listing(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start:start + 1000]]
            await self._checked("delete_objects", Delete={"Objects": batch, "Quiet": True})

    async def listing(self, prefix: str) -> list[tuple[str, int, float]]:
        """(key, size, age in seconds) of every object under `prefix`."""
        now = datetime.now(timezone.utc)
        return [(item["Key"], item["Size"], (now - item["LastModified"]).total_seconds())
                for item in await self._listed(prefix)]

    async def etags(self, prefix: str) -> dict[str, tuple[int, str]]:
        """key -> (size, ETag without its quotes) of every object under `prefix`."""
        return {item["Key"]: (item["Size"], item["ETag"].strip('"')) for item in await self._listed(prefix)}

    async def _listed(self, prefix: str) -> list[dict]:
        objects, token = [], None
        while True:
            more = {"ContinuationToken": token} if token else {}
            page = await self._checked("list_objects_v2", Prefix=prefix, **more)
            objects += page.get("Contents", [])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return objects

    async def start_multipart(self, key: str) -> str:
        return (await self._checked("create_multipart_upload", Key=key))["UploadId"]

    async def uploaded_parts(self, key: str, upload_id: str) -> dict[int, tuple[int, str]]:
        """The parts uploaded so far: number -> (size, ETag). NotFound once the upload is gone."""
        parts: dict[int, tuple[int, str]] = {}
        marker = 0
        while True:
            try:
                response = await self._call("list_parts", Key=key, UploadId=upload_id, PartNumberMarker=marker)
            except ClientError as error:
                if _code(error) in _GONE_UPLOAD:
                    raise NotFound("the multipart upload no longer exists (finished, aborted or expired)") from None
                raise self._unavailable(error) from None
            for part in response.get("Parts", []):
                parts[part["PartNumber"]] = (part["Size"], part["ETag"])
            if not response.get("IsTruncated"):
                return parts
            marker = int(response["NextPartNumberMarker"])

    async def complete_multipart(self, key: str, upload_id: str, etags: dict[int, str]) -> None:
        parts = [{"PartNumber": number, "ETag": etag} for number, etag in sorted(etags.items())]
        try:
            await self._call("complete_multipart_upload", Key=key, UploadId=upload_id,
                             MultipartUpload={"Parts": parts})
        except ClientError as error:
            if _code(error) in _GONE_UPLOAD:
                raise NotFound("the multipart upload no longer exists (finished, aborted or expired)") from None
            raise self._unavailable(error) from None

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort an unfinished multipart upload; its part URLs stop working. Gone already is fine."""
        try:
            await self._call("abort_multipart_upload", Key=key, UploadId=upload_id)
        except ClientError as error:
            if _code(error) not in _GONE_UPLOAD:
                raise self._unavailable(error) from None

    async def ping(self) -> None:
        """One authenticated request on the staging bucket; ObjectStoreUnavailable when the store does
        not answer, or refuses our credentials."""
        await self._checked("head_bucket")

    # -- plumbing ----------------------------------------------------------------------------------

    async def _checked(self, operation: str, **params):
        try:
            return await self._call(operation, **params)
        except ClientError as error:
            raise self._unavailable(error) from None

    async def _call(self, operation: str, **params):
        """One S3 request on the staging bucket; connection failures become ObjectStoreUnavailable,
        S3's own refusals stay ClientError for the caller to read."""
        await self._ensure_bucket()
        try:
            return await getattr(self._client, operation)(Bucket=self.bucket, **params)
        except (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as error:
            raise ObjectStoreUnavailable(f"the object store at {self.endpoint_url} does not answer: {error}") from None

    async def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        if self._client is None:
            raise ObjectStoreUnavailable("staging is not configured on this service (ObjectStore.endpoint_url)")
        async with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                await self._prepare_bucket()
            except (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as error:
                raise ObjectStoreUnavailable(
                    f"the object store at {self.endpoint_url} does not answer: {error}") from None
            except ClientError as error:
                raise self._unavailable(error) from None
            self._bucket_ready = True

    async def _prepare_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if _code(error) not in _MISSING | {"NoSuchBucket"}:
                raise
            location = {} if self.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": self.region}}
            try:
                await self._client.create_bucket(Bucket=self.bucket, **location)
            except ClientError as race:
                if _code(race) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
            log.info("created the staging bucket %s at %s", self.bucket, self.endpoint_url)
        rule = {
            "ID": "firecrest-staging-expiry", "Status": "Enabled", "Filter": {"Prefix": ""},
            "Expiration": {"Days": self.expiry_days},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": self.expiry_days},
        }
        try:
            await self._client.put_bucket_lifecycle_configuration(
                Bucket=self.bucket, LifecycleConfiguration={"Rules": [rule]})
        except ClientError as error:
            # Some stores lack lifecycle support; transfers still delete their objects themselves.
            log.warning("could not set the lifecycle rule of bucket %s: %s", self.bucket, error)

    def _unavailable(self, error: ClientError) -> ObjectStoreUnavailable:
        return ObjectStoreUnavailable(f"the object store refused a request: {_code(error)}: {_message(error)}")


def _length(size: int | None) -> dict:
    return {} if size is None else {"ContentLength": size}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or str(error)
